/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests for gateway/admin/qr.c: the pairing QR as PNG, SVG and terminal text. The
 * PNG and the terminal rendering are decoded back with GStreamer's zbar
 * element, the way a display scans them, and must give the payload exactly.
 */
#define G_LOG_DOMAIN "test-qr"

#include <gst/gst.h>
#include <png.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "error.h"
#include "fixture.h"
#include "qr.h"

#define PAYLOAD \
  "hearth://pair?v=1" \
  "&fp=3b6f0c9e2a41d8f5b7c3e19a04d2f6b8c5e7a9d1f3b5c7e9a2d4f6b8c0e2a4d6" \
  "&a=192.168.1.5:8444&a=127.0.0.1:8444" \
  "&t=9f2c4e6a8b0d1f3e5a7c9b2d4f6e8a0c&n=Home%20server"

#define DECODE_TIMEOUT (20 * GST_SECOND)

/* What a display would read from the image at @path: zbar's "symbol". */
static char *
decode_png (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) pipeline = NULL;
  g_autoptr (GstElement) source = NULL;
  g_autoptr (GstBus) bus = NULL;
  char *symbol = NULL;
  GstClockTime deadline;

  pipeline = gst_parse_launch ("filesrc name=source ! pngdec ! videoconvert ! "
                               "imagefreeze num-buffers=2 ! zbar ! fakesink",
                               &error);
  g_assert_no_error (error);
  source = gst_bin_get_by_name (GST_BIN (pipeline), "source");
  g_object_set (source, "location", path, NULL);
  bus = gst_element_get_bus (pipeline);
  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PLAYING), !=,
                   GST_STATE_CHANGE_FAILURE);

  deadline = g_get_monotonic_time () * GST_USECOND + DECODE_TIMEOUT;
  while (symbol == NULL) {
    GstClockTime now = g_get_monotonic_time () * GST_USECOND;
    g_autoptr (GstMessage) message = NULL;
    const GstStructure *s;

    g_assert_cmpuint (now, <, deadline);
    message = gst_bus_timed_pop_filtered (bus, deadline - now,
                                          GST_MESSAGE_ELEMENT |
                                          GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
    if (message == NULL)
      g_error ("zbar found no QR code in %s within the deadline", path);
    if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ERROR) {
      g_autoptr (GError) gst_error = NULL;

      gst_message_parse_error (message, &gst_error, NULL);
      g_error ("decoding %s: %s", path, gst_error->message);
    }
    if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_EOS)
      break;
    s = gst_message_get_structure (message);
    if (s != NULL && gst_structure_has_name (s, "barcode"))
      symbol = g_strdup (gst_structure_get_string (s, "symbol"));
  }

  gst_element_set_state (pipeline, GST_STATE_NULL);
  return symbol;
}

static void
assert_mode (const char *path, guint mode)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpuint (st.st_mode & 07777, ==, mode);
}

static guint
count_files (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static void
test_png_decodes (HearthTestFixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->state_dir, "pair.png", NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *symbol = NULL;
  g_autofree char *again = NULL;
  mode_t old_umask;

  /* 0644 whatever the umask: displays and people read it. */
  old_umask = umask (077);
  g_assert_true (hearth_qr_write_png (PAYLOAD, path, 4, &error));
  umask (old_umask);
  g_assert_no_error (error);
  assert_mode (path, 0644);
  /* The temporary file is gone. */
  g_assert_cmpuint (count_files (f->state_dir), ==, 1);

  symbol = decode_png (path);
  g_assert_cmpstr (symbol, ==, PAYLOAD);

  /* Written again over the old one, at another scale. */
  g_assert_true (hearth_qr_write_png ("hearth://pair?v=1&other", path, 8,
                                      &error));
  g_assert_no_error (error);
  g_assert_cmpuint (count_files (f->state_dir), ==, 1);
  again = decode_png (path);
  g_assert_cmpstr (again, ==, "hearth://pair?v=1&other");
}

/* The terminal text back to modules: TRUE is dark. */
static gboolean *
terminal_to_modules (const char *text, guint *size)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  guint n_lines = g_strv_length (lines);
  g_autofree gboolean *modules = NULL;
  guint width;

  /* The text ends in a newline: the last split part is empty. */
  g_assert_cmpuint (n_lines, >=, 2);
  g_assert_cmpstr (lines[n_lines - 1], ==, "");
  n_lines--;

  width = (guint) g_utf8_strlen (lines[0], -1);
  /* Versions 1 to 40 are 21 + 4k modules wide, plus 4 quiet modules a side. */
  g_assert_cmpuint (width, >=, 21 + 8);
  g_assert_cmpuint ((width - 8 - 21) % 4, ==, 0);
  /* Two rows of modules per line; the odd last row padded. */
  g_assert_cmpuint (n_lines, ==, (width + 1) / 2);

  modules = g_new0 (gboolean, (gsize) width * (n_lines * 2));
  for (guint y = 0; y < n_lines; y++) {
    const char *p = lines[y];

    g_assert_cmpuint ((guint) g_utf8_strlen (lines[y], -1), ==, width);
    for (guint x = 0; x < width; x++, p = g_utf8_next_char (p)) {
      gunichar c = g_utf8_get_char (p);
      gboolean top_dark, bottom_dark;

      /* Light is drawn, dark is blank. */
      switch (c) {
        case 0x2588: top_dark = FALSE; bottom_dark = FALSE; break; /* █ */
        case 0x2580: top_dark = FALSE; bottom_dark = TRUE; break;  /* ▀ */
        case 0x2584: top_dark = TRUE; bottom_dark = FALSE; break;  /* ▄ */
        case ' ': top_dark = TRUE; bottom_dark = TRUE; break;
        default:
          g_error ("unexpected character U+%04X in the terminal QR", c);
      }
      modules[(2 * y) * width + x] = top_dark;
      modules[(2 * y + 1) * width + x] = bottom_dark;
    }
  }
  *size = width;
  return g_steal_pointer (&modules);
}

static void
write_modules_png (const gboolean *modules, guint size, const char *path)
{
  const guint scale = 4;
  g_autofree guint8 *pixels = g_malloc ((gsize) size * scale * size * scale);
  png_image image = { 0 };

  for (guint y = 0; y < size * scale; y++)
    for (guint x = 0; x < size * scale; x++)
      pixels[y * size * scale + x] =
          modules[(y / scale) * size + x / scale] ? 0 : 255;

  image.version = PNG_IMAGE_VERSION;
  image.width = size * scale;
  image.height = size * scale;
  image.format = PNG_FORMAT_GRAY;
  g_assert_true (png_image_write_to_file (&image, path, 0, pixels, 0, NULL));
  png_image_free (&image);
}

static void
test_terminal (HearthTestFixture *f, gconstpointer data)
{
  g_autofree char *screen_path = g_build_filename (f->state_dir, "screen.png", NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree gboolean *modules = NULL;
  g_autofree char *symbol = NULL;
  guint size = 0;

  text = hearth_qr_render_terminal (PAYLOAD, &error);
  g_assert_no_error (error);
  g_assert_nonnull (text);
  g_assert_true (g_utf8_validate (text, -1, NULL));

  modules = terminal_to_modules (text, &size);

  /* A light quiet zone of 4 modules all round (and the padding row). */
  for (guint i = 0; i < size; i++) {
    for (guint q = 0; q < 4; q++) {
      g_assert_false (modules[q * size + i]);
      g_assert_false (modules[(size - 1 - q) * size + i]);
      g_assert_false (modules[i * size + q]);
      g_assert_false (modules[i * size + size - 1 - q]);
    }
    g_assert_false (modules[size * size + i]);
  }
  /* The top-left finder pattern starts right after it, dark. */
  g_assert_true (modules[4 * size + 4]);

  /* As a screen shows it: it scans. */
  write_modules_png (modules, size, screen_path);
  symbol = decode_png (screen_path);
  g_assert_cmpstr (symbol, ==, PAYLOAD);
}

typedef struct {
  guint n_svg;
  guint n_path;
  char *view_box;
} SvgCounts;

static void
svg_start_element (GMarkupParseContext *context, const char *element_name,
                   const char **attribute_names, const char **attribute_values,
                   gpointer user_data, GError **error)
{
  SvgCounts *counts = user_data;

  if (g_str_equal (element_name, "svg")) {
    counts->n_svg++;
    for (guint i = 0; attribute_names[i] != NULL; i++)
      if (g_str_equal (attribute_names[i], "viewBox"))
        counts->view_box = g_strdup (attribute_values[i]);
  } else if (g_str_equal (element_name, "path")) {
    counts->n_path++;
  }
}

static void
test_svg (HearthTestFixture *f, gconstpointer data)
{
  const GMarkupParser parser = { .start_element = svg_start_element };
  g_autofree char *path = g_build_filename (f->state_dir, "pair.svg", NULL);
  g_autoptr (GMarkupParseContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *svg = NULL;
  g_autofree char *terminal = NULL;
  g_autofree char *expected_view_box = NULL;
  SvgCounts counts = { 0 };
  gsize len = 0;
  guint size;

  g_assert_true (hearth_qr_write_svg (PAYLOAD, path, &error));
  g_assert_no_error (error);
  assert_mode (path, 0644);
  g_assert_true (g_file_get_contents (path, &svg, &len, &error));
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (svg, "<svg"));

  context = g_markup_parse_context_new (&parser, 0, &counts, NULL);
  g_assert_true (g_markup_parse_context_parse (context, svg, (gssize) len,
                                               &error));
  g_assert_no_error (error);
  g_assert_true (g_markup_parse_context_end_parse (context, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (counts.n_svg, ==, 1);
  g_assert_cmpuint (counts.n_path, ==, 1);

  /* The same code as the terminal's: its width with the quiet zone. */
  terminal = hearth_qr_render_terminal (PAYLOAD, &error);
  g_assert_no_error (error);
  size = (guint) g_utf8_strlen (terminal, strchr (terminal, '\n') - terminal);
  expected_view_box = g_strdup_printf ("0 0 %u %u", size, size);
  g_assert_cmpstr (counts.view_box, ==, expected_view_box);
  g_free (counts.view_box);
}

static void
test_errors (HearthTestFixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->state_dir, "pair.png", NULL);
  g_autofree char *missing = g_build_filename (f->state_dir, "no", "pair.png", NULL);
  g_autofree char *huge = g_strnfill (8000, 'x');
  g_autoptr (GError) error = NULL;
  char *text;

  text = hearth_qr_render_terminal ("", &error);
  g_assert_null (text);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
  g_clear_error (&error);

  /* More than a version 40 code holds. */
  text = hearth_qr_render_terminal (huge, &error);
  g_assert_null (text);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
  g_clear_error (&error);

  g_assert_false (hearth_qr_write_png (PAYLOAD, path, 0, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

  g_assert_false (hearth_qr_write_png (PAYLOAD, missing, 4, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, missing));
  g_clear_error (&error);

  g_assert_false (hearth_qr_write_svg (PAYLOAD, missing, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_cmpuint (count_files (f->state_dir), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  gst_init (&argc, &argv);

  hearth_test_add ("/hearth/qr/png-decodes", NULL, test_png_decodes);
  hearth_test_add ("/hearth/qr/terminal-scans", NULL, test_terminal);
  hearth_test_add ("/hearth/qr/svg", NULL, test_svg);
  hearth_test_add ("/hearth/qr/errors", NULL, test_errors);

  return g_test_run ();
}
