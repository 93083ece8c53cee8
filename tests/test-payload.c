/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests for gateway/pairing/payload.c, the pairing QR payload: what the gateway
 * formats, a display reads back unchanged, and anything malformed or over a
 * limit is refused with a message that names the bad part.
 */
#define G_LOG_DOMAIN "hearth-test-payload"

#include <string.h>

#include <glib.h>

#include "error.h"
#include "payload.h"

#define FP "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define TOKEN "00112233445566778899aabbccddeeff"
#define PREFIX "hearth://pair?v=1&fp=" FP
#define ADDR "&a=127.0.0.1:8444"
#define TAIL "&t=" TOKEN "&n=Home"
#define VALID PREFIX ADDR TAIL

static HearthPayload *
parse_ok (const char *text)
{
  g_autoptr (GError) error = NULL;
  HearthPayload *payload = hearth_payload_parse (text, &error);

  g_assert_no_error (error);
  g_assert_nonnull (payload);
  return payload;
}

static void
assert_invalid (const char *label, const char *text, const char *part)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthPayload) payload = hearth_payload_parse (text, &error);

  g_test_message ("%s: %s", label, error != NULL ? error->message : "(accepted)");
  g_assert_null (payload);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
  if (strstr (error->message, part) == NULL)
    g_error ("%s: message “%s” does not name “%s”", label, error->message, part);
}

static void
assert_same (const HearthPayload *a, const HearthPayload *b)
{
  g_assert_cmpstr (a->fingerprint, ==, b->fingerprint);
  g_assert_cmpstr (a->token, ==, b->token);
  g_assert_cmpstr (a->name, ==, b->name);
  g_assert_cmpuint (a->addresses->len, ==, b->addresses->len);
  for (guint i = 0; i < a->addresses->len; i++)
    g_assert_cmpstr (g_ptr_array_index (a->addresses, i), ==, g_ptr_array_index (b->addresses, i));
  g_assert_cmpuint (a->stream_addresses->len, ==, b->stream_addresses->len);
  for (guint i = 0; i < a->stream_addresses->len; i++)
    g_assert_cmpstr (g_ptr_array_index (a->stream_addresses, i), ==,
                     g_ptr_array_index (b->stream_addresses, i));
}

static void
test_round_trip (void)
{
  const char *const addresses[] = {
    "127.0.0.1:8444", "192.168.1.20:8444", "[fe80::1%eth0]:8444", "[::1]:1",
    "[fd00::2]:65535", "hearth.local:8444",
  };
  const char *const names[] = {
    "Home", "Wohnzimmer & Küche", "a=b&c=d", "100% + more", "雪 ☃ ❄",
    "?#[]@!$'()*,;/", "", "  spaces  ",
  };

  for (gsize n = 0; n < G_N_ELEMENTS (names); n++) {
    g_autoptr (HearthPayload) payload = hearth_payload_new ();
    g_autoptr (HearthPayload) back = NULL;
    g_autoptr (HearthPayload) again = NULL;
    g_autofree char *text = NULL;
    g_autofree char *text_again = NULL;

    payload->fingerprint = g_strdup (FP);
    payload->token = g_strdup (TOKEN);
    payload->name = g_strdup (names[n]);
    for (gsize i = 0; i < G_N_ELEMENTS (addresses); i++)
      g_ptr_array_add (payload->addresses, g_strdup (addresses[i]));
    /* Stream addresses are optional: every other payload has them. */
    for (gsize i = 0; n % 2 == 0 && i < G_N_ELEMENTS (addresses); i++)
      g_ptr_array_add (payload->stream_addresses, g_strdup (addresses[i]));

    text = hearth_payload_format (payload);
    g_test_message ("%s", text);
    g_assert_true (g_str_has_prefix (text, "hearth://pair?v=1&fp=" FP "&a="));
    g_assert_nonnull (strstr (text, "&a=[fe80::1%25eth0]:8444&"));
    if (n % 2 == 0)
      g_assert_nonnull (strstr (text, "&s=[fe80::1%25eth0]:8444&"));
    else
      g_assert_null (strstr (text, "&s="));
    g_assert_nonnull (strstr (text, "&t=" TOKEN "&n="));
    /* One line of printable ASCII: fits a QR code and a terminal. */
    for (const char *p = text; *p != '\0'; p++)
      g_assert_true (g_ascii_isgraph (*p));

    back = parse_ok (text);
    assert_same (payload, back);

    text_again = hearth_payload_format (back);
    g_assert_cmpstr (text_again, ==, text);
    again = parse_ok (text_again);
    assert_same (payload, again);
  }
}

/* The example in the team notes, written by hand. */
static void
test_spec_example (void)
{
  g_autoptr (HearthPayload) payload = NULL;
  g_autofree char *host = NULL;
  guint16 port = 0;
  g_autoptr (GError) error = NULL;

  payload = parse_ok ("hearth://pair?v=1&fp=" FP "&a=192.168.1.5:8444"
                      "&a=[fe80::1%25eth0]:8444&t=" TOKEN "&n=My%20Gateway");
  g_assert_cmpstr (payload->fingerprint, ==, FP);
  g_assert_cmpstr (payload->token, ==, TOKEN);
  g_assert_cmpstr (payload->name, ==, "My Gateway");
  g_assert_cmpuint (payload->addresses->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (payload->addresses, 0), ==, "192.168.1.5:8444");
  g_assert_cmpstr (g_ptr_array_index (payload->addresses, 1), ==, "[fe80::1%eth0]:8444");
  g_assert_cmpuint (payload->stream_addresses->len, ==, 0);

  g_assert_true (hearth_payload_split_address (g_ptr_array_index (payload->addresses, 1),
                                               &host, &port, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (host, ==, "fe80::1%eth0");
  g_assert_cmpuint (port, ==, 8444);
}

static void
test_lenient (void)
{
  g_autoptr (HearthPayload) upper = NULL;
  g_autoptr (HearthPayload) reordered = NULL;
  g_autoptr (HearthPayload) unnamed = NULL;
  g_autofree char *fp_upper = g_ascii_strup (FP, -1);
  g_autofree char *token_upper = g_ascii_strup (TOKEN, -1);
  g_autofree char *text = NULL;

  /* Uppercase hex is read, and normalized to lowercase. */
  text = g_strdup_printf ("hearth://pair?v=1&fp=%s" ADDR "&t=%s&n=Home", fp_upper, token_upper);
  upper = parse_ok (text);
  g_assert_cmpstr (upper->fingerprint, ==, FP);
  g_assert_cmpstr (upper->token, ==, TOKEN);

  /* Any order; unknown parameters and a fragment are ignored; the host part
   * is case-insensitive, as URI hosts are. */
  reordered = parse_ok ("hearth://PAIR?n=Home&future=yes&t=" TOKEN ADDR "&x=%20&fp=" FP
                        "&v=1#later");
  g_assert_cmpstr (reordered->fingerprint, ==, FP);
  g_assert_cmpstr (reordered->name, ==, "Home");
  g_assert_cmpuint (reordered->addresses->len, ==, 1);

  /* No name reads as an empty name. */
  unnamed = parse_ok (PREFIX ADDR "&t=" TOKEN);
  g_assert_cmpstr (unnamed->name, ==, "");
}

static void
test_limits (void)
{
  g_autoptr (GString) eight = g_string_new (PREFIX);
  g_autoptr (GString) nine = NULL;
  g_autoptr (GString) exact = g_string_new (VALID "&pad=");
  g_autoptr (HearthPayload) payload = NULL;
  g_autoptr (HearthPayload) named = NULL;
  g_autoptr (HearthPayload) utf8_named = NULL;
  g_autoptr (HearthPayload) longest = NULL;
  g_autofree char *name64 = g_strnfill (HEARTH_PAYLOAD_MAX_NAME, 'x');
  g_autofree char *text = NULL;
  g_autoptr (GString) utf8_name = g_string_new (NULL);

  /* Eight addresses are fine, nine are not. */
  for (int i = 0; i < HEARTH_PAYLOAD_MAX_ADDRESSES; i++)
    g_string_append_printf (eight, "&a=10.0.0.%d:8444", i + 1);
  nine = g_string_new (eight->str);
  g_string_append (nine, "&a=10.0.0.9:8444");
  g_string_append (eight, TAIL);
  g_string_append (nine, TAIL);
  payload = parse_ok (eight->str);
  g_assert_cmpuint (payload->addresses->len, ==, HEARTH_PAYLOAD_MAX_ADDRESSES);
  assert_invalid ("nine addresses", nine->str, "more than 8 addresses (a)");
  g_clear_pointer (&payload, hearth_payload_free);
  g_string_assign (eight, VALID);
  for (int i = 0; i < HEARTH_PAYLOAD_MAX_ADDRESSES; i++)
    g_string_append_printf (eight, "&s=10.0.0.%d:8443", i + 1);
  payload = parse_ok (eight->str);
  g_assert_cmpuint (payload->stream_addresses->len, ==, HEARTH_PAYLOAD_MAX_ADDRESSES);
  g_string_append (eight, "&s=10.0.0.9:8443");
  assert_invalid ("nine stream addresses", eight->str, "more than 8 stream addresses (s)");

  /* A 64-byte name is fine, 65 bytes are not; bytes, not characters. */
  text = g_strdup_printf (PREFIX ADDR "&t=" TOKEN "&n=%s", name64);
  named = parse_ok (text);
  g_assert_cmpstr (named->name, ==, name64);
  g_clear_pointer (&text, g_free);
  text = g_strdup_printf (PREFIX ADDR "&t=" TOKEN "&n=%sy", name64);
  assert_invalid ("65-byte name", text, "name (n)");
  g_clear_pointer (&text, g_free);

  for (int i = 0; i < HEARTH_PAYLOAD_MAX_NAME / 2; i++)
    g_string_append (utf8_name, "%C3%A9");  /* é, two bytes */
  text = g_strdup_printf (PREFIX ADDR "&t=" TOKEN "&n=%s", utf8_name->str);
  utf8_named = parse_ok (text);
  g_assert_cmpuint (strlen (utf8_named->name), ==, HEARTH_PAYLOAD_MAX_NAME);
  g_assert_cmpuint (g_utf8_strlen (utf8_named->name, -1), ==, HEARTH_PAYLOAD_MAX_NAME / 2);
  g_clear_pointer (&text, g_free);
  text = g_strdup_printf (PREFIX ADDR "&t=" TOKEN "&n=%s%%C3%%A9", utf8_name->str);
  assert_invalid ("33 two-byte characters", text, "name (n)");

  /* Exactly 2048 bytes is fine, one more is not. */
  while (exact->len < HEARTH_PAYLOAD_MAX_LEN)
    g_string_append_c (exact, 'p');
  longest = parse_ok (exact->str);
  g_assert_cmpstr (longest->name, ==, "Home");
  g_string_append_c (exact, 'p');
  assert_invalid ("2049 bytes", exact->str, "more than 2048");
}

static void
test_invalid (void)
{
  const struct {
    const char *label;
    const char *text;
    const char *part;  /* what the message must name */
  } cases[] = {
    { "empty", "", "empty" },
    { "not a URI", "hello, gateway", "not a URI" },
    { "bad percent-encoding", PREFIX ADDR TAIL "%zz", "not a URI" },
    { "wrong scheme", "http://pair?v=1&fp=" FP ADDR TAIL, "scheme" },
    { "https without a port", "https://pair?v=1&fp=" FP ADDR TAIL, "link" },
    { "wrong host", "hearth://unpair?v=1&fp=" FP ADDR TAIL, "hearth://pair" },
    { "no authority", "hearth:pair?v=1&fp=" FP ADDR TAIL, "hearth://pair" },
    { "a path", "hearth://pair/x?v=1&fp=" FP ADDR TAIL, "hearth://pair" },
    { "a port on the URI", "hearth://pair:1?v=1&fp=" FP ADDR TAIL, "hearth://pair" },
    { "no parameters", "hearth://pair", "no parameters" },
    { "parameter without =", VALID "&x", "parameters" },
    { "missing v", "hearth://pair?fp=" FP ADDR TAIL, "version (v)" },
    { "v=2", "hearth://pair?v=2&fp=" FP ADDR TAIL, "version (v)" },
    { "v=01", "hearth://pair?v=01&fp=" FP ADDR TAIL, "version (v)" },
    { "v twice", VALID "&v=1", "“v” appears more than once" },
    { "missing fp", "hearth://pair?v=1" ADDR TAIL, "fingerprint (fp)" },
    { "fp of 63 chars", "hearth://pair?v=1&fp=123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
      ADDR TAIL, "fingerprint (fp)" },
    { "fp of 65 chars", PREFIX "0" ADDR TAIL, "fingerprint (fp)" },
    { "fp not hex", "hearth://pair?v=1&fp=g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
      ADDR TAIL, "fingerprint (fp)" },
    { "fp with a space", "hearth://pair?v=1&fp=%20123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
      ADDR TAIL, "fingerprint (fp)" },
    { "fp twice", VALID "&fp=" FP, "“fp” appears more than once" },
    { "missing t", PREFIX ADDR "&n=Home", "token (t)" },
    { "t of 31", PREFIX ADDR "&t=0112233445566778899aabbccddeeff", "token (t)" },
    { "t of 33", PREFIX ADDR "&t=" TOKEN "0", "token (t)" },
    { "t not hex", PREFIX ADDR "&t=0011223344556677-899aabbccddeeff", "token (t)" },
    { "no address", PREFIX TAIL, "no address (a)" },
    { "empty address", PREFIX "&a=" TAIL, "address" },
    { "port 0", PREFIX "&a=127.0.0.1:0" TAIL, "port" },
    { "port 70000", PREFIX "&a=127.0.0.1:70000" TAIL, "port" },
    { "missing port", PREFIX "&a=127.0.0.1" TAIL, "port is missing" },
    { "empty port", PREFIX "&a=127.0.0.1:" TAIL, "address “127.0.0.1:”" },
    { "service name port", PREFIX "&a=127.0.0.1:https" TAIL, "port" },
    { "negative port", PREFIX "&a=127.0.0.1:-1" TAIL, "port" },
    { "v6 missing port", PREFIX "&a=[::1]" TAIL, "port is missing" },
    { "v6 unbracketed", PREFIX "&a=fe80::1:8444" TAIL, "brackets" },
    { "v4 in brackets", PREFIX "&a=[127.0.0.1]:8444" TAIL, "not an IPv6 address" },
    { "empty zone", PREFIX "&a=[fe80::1%25]:8444" TAIL, "not an IPv6 address" },
    { "empty host", PREFIX "&a=:8444" TAIL, "host is empty" },
    { "host with a space", PREFIX "&a=my%20host:8444" TAIL, "not an IP address or a host name" },
    { "escape sequence", PREFIX "&a=%1B%5B2J:8444" TAIL, "address “\\033[2J:8444”" },
    { "one bad address of two", PREFIX ADDR "&a=10.0.0.1:0" TAIL, "address “10.0.0.1:0”" },
    { "bad stream address", PREFIX ADDR "&s=10.0.0.1:0" TAIL, "stream (s) address “10.0.0.1:0”" },
    { "stream address without port", VALID "&s=10.0.0.1", "stream (s) address “10.0.0.1”: the port is missing" },
    { "name with a newline", PREFIX ADDR "&t=" TOKEN "&n=a%0Ab", "name (n)" },
    { "name twice", VALID "&n=Other", "“n” appears more than once" },
    { "raw invalid UTF-8", VALID "\xff", "UTF-8" },
    { "overlong UTF-8", PREFIX ADDR TAIL "\xc0\xaf", "UTF-8" },
    { "encoded invalid UTF-8", PREFIX ADDR "&t=" TOKEN "&n=%FF", "UTF-8" },
    { "encoded NUL", PREFIX ADDR "&t=" TOKEN "&n=a%00b", "parameters" },
  };
  g_autofree char *padding = g_strnfill (4096, 'p');
  g_autofree char *oversize = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    assert_invalid (cases[i].label, cases[i].text, cases[i].part);

  oversize = g_strconcat (VALID "&pad=", padding, NULL);
  assert_invalid ("oversize", oversize, "more than 2048");
  assert_invalid ("NULL", NULL, "empty");
}

static void
test_split_address (void)
{
  const struct {
    const char *address;
    const char *host;
    guint16 port;
  } good[] = {
    { "127.0.0.1:8444", "127.0.0.1", 8444 },
    { "192.168.1.20:1", "192.168.1.20", 1 },
    { "[::1]:65535", "::1", 65535 },
    { "[fe80::1%eth0]:8444", "fe80::1%eth0", 8444 },
    { "[fd12:3456::7]:443", "fd12:3456::7", 443 },
    { "hearth.local:8444", "hearth.local", 8444 },
  };
  const char *const bad[] = {
    "", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:http",
    "127.0.0.1:80x", "[::1]", "[::1]:", "[::1]x", "::1:80", "[::1:80", ":80", "[]:80",
    "[127.0.0.1]:80", "[hearth.local]:80", "a b:80", "-host:80", "[fe80::1%]:80",
    "[fe80::1%e/th0]:80",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *host = NULL;
    guint16 port = 0;

    g_assert_true (hearth_payload_split_address (good[i].address, &host, &port, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (host, ==, good[i].host);
    g_assert_cmpuint (port, ==, good[i].port);
  }

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *host = NULL;
    guint16 port = 0;

    g_assert_false (hearth_payload_split_address (bad[i], &host, &port, &error));
    g_test_message ("“%s”: %s", bad[i], error->message);
    g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
    g_assert_null (host);
    g_assert_cmpuint (port, ==, 0);
  }
}

/* The https:// link a phone's camera opens: the first address is the link's
 * own host and port, the others follow as "a"; it reads back as the same
 * payload as the hearth:// form, and the two forms are one parser's. */
static void
test_link (void)
{
  const char *const firsts[] = {
    "192.168.1.20:8444", "[fd00::2]:8444", "[fe80::1%eth0]:8444", "hearth.local:8444",
  };

  for (gsize f = 0; f < G_N_ELEMENTS (firsts); f++) {
    g_autoptr (HearthPayload) payload = hearth_payload_new ();
    g_autoptr (HearthPayload) back = NULL;
    g_autoptr (HearthPayload) from_uri = NULL;
    g_autofree char *link = NULL;
    g_autofree char *uri = NULL;
    g_autofree char *prefix = NULL;
    g_autofree char *authority = g_uri_escape_string (firsts[f], "[]:", FALSE);

    payload->fingerprint = g_strdup (FP);
    payload->token = g_strdup (TOKEN);
    payload->name = g_strdup ("Wohnzimmer & Küche");
    g_ptr_array_add (payload->addresses, g_strdup (firsts[f]));
    g_ptr_array_add (payload->addresses, g_strdup ("127.0.0.1:8444"));

    link = hearth_payload_format_link (payload);
    g_test_message ("%s", link);
    prefix = g_strdup_printf ("https://%s/pair?v=1&fp=" FP "&a=127.0.0.1:8444&t=" TOKEN "&n=",
                              authority);
    g_assert_true (g_str_has_prefix (link, prefix));
    for (const char *p = link; *p != '\0'; p++)
      g_assert_true (g_ascii_isgraph (*p));

    back = parse_ok (link);
    assert_same (payload, back);
    uri = hearth_payload_format (back);
    from_uri = parse_ok (uri);
    assert_same (back, from_uri);
  }

  /* A single address: nothing but the link's own. */
  {
    g_autoptr (HearthPayload) back =
        parse_ok ("https://192.168.1.5:8444/pair?v=1&fp=" FP "&t=" TOKEN "&n=My%20Gateway");

    g_assert_cmpuint (back->addresses->len, ==, 1);
    g_assert_cmpstr (g_ptr_array_index (back->addresses, 0), ==, "192.168.1.5:8444");
    g_assert_cmpstr (back->name, ==, "My Gateway");
  }

  assert_invalid ("http link", "http://192.168.1.5:8444/pair?v=1&fp=" FP TAIL, "scheme");
  assert_invalid ("link without a port", "https://192.168.1.5/pair?v=1&fp=" FP TAIL, "link");
  assert_invalid ("link with another path", "https://192.168.1.5:8444/x?v=1&fp=" FP TAIL, "link");
  assert_invalid ("link with user info", "https://u@192.168.1.5:8444/pair?v=1&fp=" FP TAIL, "link");
  assert_invalid ("link with a fragment", "https://192.168.1.5:8444/pair?v=1&fp=" FP TAIL "#x",
                  "link");
  assert_invalid ("link without a token", "https://192.168.1.5:8444/pair?v=1&fp=" FP "&n=x",
                  "token");
  assert_invalid ("link with a bad extra address",
                  "https://192.168.1.5:8444/pair?v=1&fp=" FP "&a=nope" TAIL, "port");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/hearth/payload/round-trip", test_round_trip);
  g_test_add_func ("/hearth/payload/spec-example", test_spec_example);
  g_test_add_func ("/hearth/payload/lenient", test_lenient);
  g_test_add_func ("/hearth/payload/limits", test_limits);
  g_test_add_func ("/hearth/payload/invalid", test_invalid);
  g_test_add_func ("/hearth/payload/split-address", test_split_address);
  g_test_add_func ("/hearth/payload/link", test_link);

  return g_test_run ();
}
