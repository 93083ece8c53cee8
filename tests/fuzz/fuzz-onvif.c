/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: what an ONVIF device sends, as plugins/onvif.c reads
 * it. The first byte picks the reader (a WS-Discovery datagram with the
 * XAddr taken from each device it names, or one of the device's SOAP
 * answers: capabilities, device information, network interfaces, profiles
 * with the choice of main and sub, stream URI, clock); the rest is the
 * message as it comes from the network.
 */
#include "hearth-plugin.h"
#include "onvif.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static void
read_discovery (const char *text, gsize len)
{
  g_autoptr (OnvifMessage) message = onvif_parse_discovery (text, len, NULL);

  for (guint i = 0; message != NULL && i < message->devices->len; i++) {
    OnvifDevice *device = message->devices->pdata[i];
    g_autofree char *any = onvif_pick_xaddr (device->xaddrs, NULL);
    g_autofree char *from = onvif_pick_xaddr (device->xaddrs, "192.168.1.40");

    (void) any;
    (void) from;
  }
}

static void
read_answer (guint8 which, const char *text, gsize len)
{
  g_autofree char *a = NULL, *b = NULL, *c = NULL;
  g_autoptr (GPtrArray) profiles = NULL;
  g_autoptr (GError) error = NULL;
  gint64 offset = 0;
  int main_index, sub_index;

  switch (which % 6) {
  case 0:
    onvif_parse_capabilities (text, len, &a, &error);
    break;
  case 1:
    onvif_parse_device_information (text, len, &a, &b, &c, &error);
    break;
  case 2:
    onvif_parse_network_interfaces (text, len, &a, &error);
    break;
  case 3:
    if (onvif_parse_profiles (text, len, &profiles, &error))
      onvif_choose_profiles (profiles, &main_index, &sub_index);
    break;
  case 4:
    onvif_parse_stream_uri (text, len, &a, &error);
    break;
  default:
    onvif_parse_system_date_and_time (text, len, &offset, &error);
    break;
  }
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  if (size < 1)
    return 0;
  if (data[0] < 0x80)
    read_discovery ((const char *) data + 1, size - 1);
  else
    read_answer (data[0] - 0x80, (const char *) data + 1, size - 1);
  return 0;
}
