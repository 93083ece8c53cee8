/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QR codes for pairing payloads. hearthctl pair shows the payload as a QR in
 * the terminal and can write it as PNG or SVG; a display scans it. The only
 * file that includes qrencode.h and png.h.
 *
 * Every rendering has a quiet zone of 4 light modules, which scanners need to
 * find the code. In the terminal the light modules are drawn as full blocks
 * (the terminal's foreground) and the dark ones as blanks (its background):
 * on the usual dark terminal that gives dark modules on a light code, and it
 * needs no colour escape sequences.
 */
#define G_LOG_DOMAIN "hearth-qr"

#include "qr.h"

#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <qrencode.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "error.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QRcode, QRcode_free)

#define QUIET_ZONE 4
#define MAX_SCALE 32

static QRcode *
encode (const char *text, GError **error)
{
  QRcode *code;

  if (text[0] == '\0') {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "cannot make a QR code of an empty text");
    return NULL;
  }

  code = QRcode_encodeString (text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  if (code == NULL) {
    int saved_errno = errno;

    if (saved_errno == ERANGE || saved_errno == EINVAL)
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                   "text of %" G_GSIZE_FORMAT " bytes does not fit in a QR "
                   "code", strlen (text));
    else
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                   "cannot make a QR code: %s", g_strerror (saved_errno));
  }
  return code;
}

/* Whether the module at (x, y) of the code with its quiet zone is dark;
 * coordinates outside the code are light (quiet zone). */
static gboolean
module_is_dark (const QRcode *code, int x, int y)
{
  x -= QUIET_ZONE;
  y -= QUIET_ZONE;
  if (x < 0 || y < 0 || x >= code->width || y >= code->width)
    return FALSE;
  return (code->data[y * code->width + x] & 1) != 0;
}

/* Writes @data to a temporary file next to @path, then renames it over
 * @path: a reader never sees half a file. The mode is exactly 0644, whatever
 * the umask: the QR is shown to people and displays, it holds no secret
 * beyond the pairing window. */
static gboolean
write_atomically (const char *path, const void *data, gsize len,
                  GError **error)
{
  g_autofree char *tmp = g_strconcat (path, ".XXXXXX", NULL);
  const guint8 *p = data;
  int fd;

  fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) {
    int saved_errno = errno;

    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                 "cannot create a file next to %s: %s", path,
                 g_strerror (saved_errno));
    return FALSE;
  }

  if (fchmod (fd, 0644) < 0)
    goto fail;
  while (len > 0) {
    ssize_t n = write (fd, p, len);

    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      goto fail;
    p += n;
    len -= (gsize) n;
  }
  if (fsync (fd) < 0)
    goto fail;
  if (close (fd) < 0) {
    fd = -1;
    goto fail;
  }
  fd = -1;
  if (g_rename (tmp, path) < 0)
    goto fail;
  return TRUE;

fail:
  {
    int saved_errno = errno;

    if (fd >= 0)
      close (fd);
    g_unlink (tmp);
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                 "cannot write %s: %s", path, g_strerror (saved_errno));
    return FALSE;
  }
}

/**
 * hearth_qr_render_terminal:
 * @text: the payload
 * @error: return location for a #GError
 *
 * Renders @text as a QR for a terminal: each character cell holds two rows
 * of modules, light modules drawn with '█', '▀' and '▄', dark ones blank.
 * The result is (width + 8) characters wide and (width + 9) / 2 lines high,
 * each line ending in a newline; an odd last row is padded with light.
 *
 * Returns: (transfer full) (nullable): the text, or %NULL on error
 */
char *
hearth_qr_render_terminal (const char *text, GError **error)
{
  g_autoptr (QRcode) code = NULL;
  g_autoptr (GString) out = NULL;
  int size;

  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  code = encode (text, error);
  if (code == NULL)
    return NULL;

  size = code->width + 2 * QUIET_ZONE;
  out = g_string_sized_new ((gsize) (size * 3 + 1) * (gsize) ((size + 1) / 2));
  for (int y = 0; y < size; y += 2) {
    for (int x = 0; x < size; x++) {
      gboolean top_light = !module_is_dark (code, x, y);
      /* The row below the last one is outside the code: light. */
      gboolean bottom_light = !module_is_dark (code, x, y + 1);

      if (top_light && bottom_light)
        g_string_append (out, "█");
      else if (top_light)
        g_string_append (out, "▀");
      else if (bottom_light)
        g_string_append (out, "▄");
      else
        g_string_append_c (out, ' ');
    }
    g_string_append_c (out, '\n');
  }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/**
 * hearth_qr_write_png:
 * @text: the payload
 * @path: the file to write; replaced atomically, mode 0644
 * @scale: pixels per module, 1 to 32
 * @error: return location for a #GError
 *
 * Writes @text as an 8-bit grayscale PNG, black on white, with a quiet zone
 * of 4 modules.
 *
 * Returns: %TRUE on success
 */
gboolean
hearth_qr_write_png (const char *text, const char *path, guint scale,
                     GError **error)
{
  g_autoptr (QRcode) code = NULL;
  g_autofree guint8 *pixels = NULL;
  g_autofree void *png = NULL;
  png_alloc_size_t png_size = 0;
  png_image image = { 0 };
  guint size;

  g_return_val_if_fail (text != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (scale < 1 || scale > MAX_SCALE) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "QR scale %u is out of range (1 to %d pixels per module)",
                 scale, MAX_SCALE);
    return FALSE;
  }

  code = encode (text, error);
  if (code == NULL)
    return FALSE;

  size = ((guint) code->width + 2 * QUIET_ZONE) * scale;
  pixels = g_malloc ((gsize) size * size);
  for (guint y = 0; y < size; y++) {
    for (guint x = 0; x < size; x++)
      pixels[(gsize) y * size + x] =
          module_is_dark (code, (int) (x / scale), (int) (y / scale)) ? 0 : 255;
  }

  image.version = PNG_IMAGE_VERSION;
  image.width = size;
  image.height = size;
  image.format = PNG_FORMAT_GRAY;

  /* First ask for the size, then write into a buffer of that size. */
  if (!png_image_write_get_memory_size (image, png_size, 0, pixels, 0, NULL)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                 "cannot encode the QR code as PNG: %s", image.message);
    png_image_free (&image);
    return FALSE;
  }
  png = g_malloc (png_size);
  if (!png_image_write_to_memory (&image, png, &png_size, 0, pixels, 0, NULL)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                 "cannot encode the QR code as PNG: %s", image.message);
    png_image_free (&image);
    return FALSE;
  }
  png_image_free (&image);

  if (!write_atomically (path, png, png_size, error)) {
    g_prefix_error (error, "cannot write the QR code PNG: ");
    return FALSE;
  }
  return TRUE;
}

/**
 * hearth_qr_write_svg:
 * @text: the payload
 * @path: the file to write; replaced atomically, mode 0644
 * @error: return location for a #GError
 *
 * Writes @text as an SVG: a white square and one black path of unit squares,
 * in a viewBox of one unit per module including the quiet zone.
 *
 * Returns: %TRUE on success
 */
gboolean
hearth_qr_write_svg (const char *text, const char *path, GError **error)
{
  g_autoptr (QRcode) code = NULL;
  g_autoptr (GString) svg = NULL;
  int size;

  g_return_val_if_fail (text != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  code = encode (text, error);
  if (code == NULL)
    return FALSE;

  size = code->width + 2 * QUIET_ZONE;
  svg = g_string_new (NULL);
  g_string_append_printf (svg,
      "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
      "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
      "shape-rendering=\"crispEdges\">\n"
      "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n"
      "<path fill=\"#000000\" d=\"",
      size, size, size * 8, size * 8, size, size);
  for (int y = 0; y < code->width; y++) {
    const unsigned char *row = code->data + y * code->width;

    for (int x = 0; x < code->width; x++) {
      int run = 0;

      /* One rectangle per horizontal run of dark modules. */
      while (x + run < code->width && (row[x + run] & 1))
        run++;
      if (run > 0) {
        g_string_append_printf (svg, "M%d %dh%dv1h-%dz",
                                x + QUIET_ZONE, y + QUIET_ZONE, run, run);
        x += run;
      }
    }
  }
  g_string_append (svg, "\"/>\n</svg>\n");

  if (!write_atomically (path, svg->str, svg->len, error)) {
    g_prefix_error (error, "cannot write the QR code SVG: ");
    return FALSE;
  }
  return TRUE;
}
