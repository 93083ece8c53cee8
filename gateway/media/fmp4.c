/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fragmented-MP4 splitter: the one place in the gateway that reads MP4 bytes.
 *
 * HearthCamera feeds it the byte stream of GStreamer's mp4mux (fragmented
 * mode) on the main context, one splitter per stream generation. It cuts the
 * stream at top-level boxes into an init segment (ftyp + moov) and fragments
 * (moof + mdat, contiguous), and reads just enough of each moof
 * (moof/traf/tfhd/trun, with the moov/mvex/trex defaults) to tell whether the
 * fragment starts with a sync sample; hearth_fmp4_fragment_get_time() reads
 * where a fragment lies on its track's timeline (tfdt, the trun's durations
 * or their defaults, the trak's mdhd timescale) for the LL-HLS durations
 * (api-hls.c). A new init segment after fragments
 * starts a new stream (the camera replaced its muxer when the video changed:
 * camera.c), with its own track defaults; the caller sees the second INIT.
 * Everything it reads comes from a camera,
 * so every read is bounds-checked, and a malformed box is a HEARTH_ERROR_MEDIA
 * error that stays sticky: the camera restarts with a new generation rather
 * than serve bytes nobody understood.
 *
 * Audio: with a camera's AAC passed through, mp4mux has two tracks. Its
 * fragments then each hold one track's samples, never both (checked on
 * GStreamer 1.22 with ffprobe and a box dump: fragment-duration=1 gives one
 * moof+mdat per video frame and one per AAC frame, about 43 a second at
 * 44.1 kHz, interleaved in time order). The splitter learns from the moov
 * which track is the video (the first trak whose handler is "vide") and
 * reports every fragment of another track as HEARTH_FMP4_AUDIO, never as a
 * keyframe: only video fragments start GOPs and count as frames. A moov
 * without trak boxes (as in unit tests) makes every fragment video.
 */
#define G_LOG_DOMAIN "hearth-fmp4"

#include <string.h>

#include "error.h"
#include "fmp4.h"

/* A live camera's boxes are small (one frame per fragment); a bigger one is
 * broken or hostile and would only grow the pending buffer. */
#define MAX_BOX_SIZE (64u * 1024 * 1024)
/* moov/mvex/trex entries remembered (one per track; cameras have 1–2). */
#define MAX_TREX 8

/* ISO/IEC 14496-12 sample_flags: sample_is_non_sync_sample. */
#define SAMPLE_IS_NON_SYNC 0x00010000u

#define TFHD_BASE_DATA_OFFSET   0x000001u
#define TFHD_SAMPLE_DESC_INDEX  0x000002u
#define TFHD_DEFAULT_DURATION   0x000008u
#define TFHD_DEFAULT_SIZE       0x000010u
#define TFHD_DEFAULT_FLAGS      0x000020u

#define TRUN_DATA_OFFSET        0x000001u
#define TRUN_FIRST_SAMPLE_FLAGS 0x000004u
#define TRUN_SAMPLE_DURATION    0x000100u
#define TRUN_SAMPLE_SIZE        0x000200u
#define TRUN_SAMPLE_FLAGS       0x000400u
#define TRUN_SAMPLE_CTO         0x000800u

#define FOURCC(a, b, c, d) \
  (((guint32) (a) << 24) | ((guint32) (b) << 16) | \
   ((guint32) (c) << 8) | (guint32) (d))

#define BOX_FTYP FOURCC ('f', 't', 'y', 'p')
#define BOX_MOOV FOURCC ('m', 'o', 'o', 'v')
#define BOX_MOOF FOURCC ('m', 'o', 'o', 'f')
#define BOX_MDAT FOURCC ('m', 'd', 'a', 't')
#define BOX_MVEX FOURCC ('m', 'v', 'e', 'x')
#define BOX_TREX FOURCC ('t', 'r', 'e', 'x')
#define BOX_TRAF FOURCC ('t', 'r', 'a', 'f')
#define BOX_TFHD FOURCC ('t', 'f', 'h', 'd')
#define BOX_TRUN FOURCC ('t', 'r', 'u', 'n')
#define BOX_TRAK FOURCC ('t', 'r', 'a', 'k')
#define BOX_MDIA FOURCC ('m', 'd', 'i', 'a')
#define BOX_HDLR FOURCC ('h', 'd', 'l', 'r')
#define BOX_MINF FOURCC ('m', 'i', 'n', 'f')
#define BOX_STBL FOURCC ('s', 't', 'b', 'l')
#define BOX_STSD FOURCC ('s', 't', 's', 'd')
#define BOX_TKHD FOURCC ('t', 'k', 'h', 'd')
#define BOX_TFDT FOURCC ('t', 'f', 'd', 't')
#define BOX_MDHD FOURCC ('m', 'd', 'h', 'd')
#define HANDLER_VIDE FOURCC ('v', 'i', 'd', 'e')
#define HANDLER_SOUN FOURCC ('s', 'o', 'u', 'n')

typedef struct {
  guint32 track_id;
  guint32 default_sample_duration;
  guint32 default_sample_flags;
} Trex;

/* Where a fragment's samples lie on its track's timeline. */
typedef struct {
  gboolean have_decode_time;   /* a tfdt was there */
  guint64 decode_time;         /* of the first sample */
  gboolean have_duration;      /* every sample's duration was said */
  guint64 duration;            /* of all its samples */
} FragmentTime;

typedef struct {
  HearthFmp4Kind kind;
  GBytes *bytes;
  gboolean keyframe;
} Unit;

struct _HearthFmp4Splitter {
  GByteArray *pending;   /* bytes not yet cut into boxes */
  GQueue units;          /* of Unit *, ready for pop */
  GBytes *ftyp;          /* (nullable) waiting for its moov */
  GBytes *moof;          /* (nullable) waiting for its mdat */
  gboolean moof_keyframe;
  gboolean moof_audio;   /* the waiting moof is not the video track's */
  gboolean started;      /* saw the leading ftyp */
  gboolean have_init;
  gboolean have_fragment; /* of the current init */
  Trex trex[MAX_TREX];
  guint n_trex;
  gboolean have_video_track;
  guint32 video_track_id;  /* valid if have_video_track */
  GError *error;         /* (nullable) sticky: the stream is broken */
};

/* A cursor over untrusted bytes; every read checks what is left. */
typedef struct {
  const guint8 *data;
  gsize len;
  gsize pos;
} Reader;

typedef struct {
  guint32 type;
  const guint8 *body;    /* after the (large)size/type header */
  gsize body_len;
} Box;

static void
unit_free (Unit *unit)
{
  g_bytes_unref (unit->bytes);
  g_free (unit);
}

static gsize
reader_left (const Reader *r)
{
  return r->len - r->pos;
}

static gboolean
reader_skip (Reader *r, gsize n)
{
  if (reader_left (r) < n)
    return FALSE;
  r->pos += n;
  return TRUE;
}

static gboolean
reader_u32 (Reader *r, guint32 *out)
{
  guint32 v;

  if (reader_left (r) < 4)
    return FALSE;
  memcpy (&v, r->data + r->pos, 4);
  *out = GUINT32_FROM_BE (v);
  r->pos += 4;
  return TRUE;
}

static gboolean
reader_u64 (Reader *r, guint64 *out)
{
  guint64 v;

  if (reader_left (r) < 8)
    return FALSE;
  memcpy (&v, r->data + r->pos, 8);
  *out = GUINT64_FROM_BE (v);
  r->pos += 8;
  return TRUE;
}

/* The type as text for messages; non-printable bytes become '?'. */
static void
fourcc_to_string (guint32 type, char out[5])
{
  for (guint i = 0; i < 4; i++) {
    char c = (char) ((type >> (24 - 8 * i)) & 0xff);
    out[i] = g_ascii_isprint (c) ? c : '?';
  }
  out[4] = '\0';
}

static gboolean
fourcc_is_valid (guint32 type)
{
  for (guint i = 0; i < 4; i++) {
    guint8 c = (type >> (24 - 8 * i)) & 0xff;
    if (c < 0x20 || c > 0x7e)
      return FALSE;
  }
  return TRUE;
}

/*
 * Reads a box header at @data. Returns FALSE with @error on a malformed
 * header; returns TRUE with *@need_more set if @len does not hold the header
 * yet. On success *@header_len and *@box_len (whole box) are set; the box
 * itself may extend past @len.
 */
static gboolean
parse_box_header (const guint8 *data, gsize len, guint32 *type,
                  gsize *header_len, guint64 *box_len, gboolean *need_more,
                  GError **error)
{
  Reader r = { data, len, 0 };
  guint32 size32;
  guint64 size;
  char name[5];

  *need_more = FALSE;
  if (len < 8) {
    *need_more = TRUE;
    return TRUE;
  }
  reader_u32 (&r, &size32);
  reader_u32 (&r, type);
  fourcc_to_string (*type, name);

  if (!fourcc_is_valid (*type)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                 "Box type is not a four-character code (\"%s\")", name);
    return FALSE;
  }

  if (size32 == 0) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                 "Box \"%s\" extends to the end of the file, which a live "
                 "stream does not have", name);
    return FALSE;
  }

  if (size32 == 1) {
    if (!reader_u64 (&r, &size)) {
      *need_more = TRUE;
      return TRUE;
    }
    *header_len = 16;
  } else {
    size = size32;
    *header_len = 8;
  }

  if (size < *header_len) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                 "Box \"%s\" is %" G_GUINT64_FORMAT " bytes, shorter than "
                 "its own header", name, size);
    return FALSE;
  }
  if (size > MAX_BOX_SIZE) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                 "Box \"%s\" is %" G_GUINT64_FORMAT " bytes, over the "
                 "limit of %u", name, size, MAX_BOX_SIZE);
    return FALSE;
  }

  *box_len = size;
  return TRUE;
}

/* Takes the next child box out of a container's body held in @r. */
static gboolean
reader_box (Reader *r, Box *box, GError **error)
{
  gsize header_len;
  guint64 box_len;
  gboolean need_more;
  char name[5];

  if (!parse_box_header (r->data + r->pos, reader_left (r), &box->type,
                         &header_len, &box_len, &need_more, error))
    return FALSE;

  if (need_more) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                         "Truncated box header inside a container");
    return FALSE;
  }
  if (box_len > reader_left (r)) {
    fourcc_to_string (box->type, name);
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                 "Box \"%s\" (%" G_GUINT64_FORMAT " bytes) overruns its "
                 "container (%" G_GSIZE_FORMAT " bytes left)",
                 name, box_len, reader_left (r));
    return FALSE;
  }

  box->body = r->data + r->pos + header_len;
  box->body_len = (gsize) box_len - header_len;
  r->pos += (gsize) box_len;
  return TRUE;
}

/* The body of the box at the start of @data, which must be of @expected
 * type; whatever follows it is ignored. */
static gboolean
reader_whole_box (const guint8 *data, gsize len, guint32 expected, Box *box,
                  GError **error)
{
  Reader r = { data, len, 0 };
  char name[5];

  if (!reader_box (&r, box, error))
    return FALSE;
  if (box->type != expected) {
    fourcc_to_string (box->type, name);
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                 "Unexpected \"%s\" box", name);
    return FALSE;
  }
  return TRUE;
}

static gboolean
reader_full_box_header (Reader *r, guint32 *version_flags, const char *name,
                        GError **error)
{
  if (!reader_u32 (r, version_flags)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                 "Truncated %s box", name);
    return FALSE;
  }
  return TRUE;
}

static const Trex *
trex_lookup (const Trex *trex, guint n_trex, guint32 track_id)
{
  for (guint i = 0; i < n_trex; i++) {
    if (trex[i].track_id == track_id)
      return &trex[i];
  }
  return NULL;
}

/*
 * Reads the first track fragment of a moof: the flags of its first sample,
 * how many samples it holds and, if @time is given, where they lie on the
 * track's timeline. @trex: the init segment's defaults, if known.
 * @keyframe may be NULL when only the count is wanted.
 */
static gboolean
parse_moof (const guint8 *moof, gsize len, const Trex *trex, guint n_trex,
            gboolean *keyframe, guint *n_samples, guint32 *track_out,
            FragmentTime *time, GError **error)
{
  Box moof_box, traf = { 0, NULL, 0 }, child;
  Reader r;
  gboolean have_traf = FALSE, have_tfhd = FALSE, have_first = FALSE;
  guint32 track_id = 0, tfhd_flags = 0, tfhd_default_flags = 0;
  guint32 tfhd_default_duration = 0;
  guint32 first_flags = 0;
  guint64 samples = 0;
  FragmentTime t = { FALSE, 0, TRUE, 0 };

  if (!reader_whole_box (moof, len, BOX_MOOF, &moof_box, error))
    return FALSE;

  r = (Reader) { moof_box.body, moof_box.body_len, 0 };
  while (reader_left (&r) > 0) {
    if (!reader_box (&r, &child, error))
      return FALSE;
    if (child.type == BOX_TRAF) {
      traf = child;
      have_traf = TRUE;
      break;
    }
  }
  if (!have_traf) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                         "Fragment has no track (no traf box)");
    return FALSE;
  }

  r = (Reader) { traf.body, traf.body_len, 0 };
  while (reader_left (&r) > 0) {
    const Trex *defaults;
    Reader b;
    guint32 vf, flags, count, record = 0;

    if (!reader_box (&r, &child, error))
      return FALSE;
    b = (Reader) { child.body, child.body_len, 0 };

    if (child.type == BOX_TFHD) {
      if (!reader_full_box_header (&b, &vf, "tfhd", error))
        return FALSE;
      flags = vf & 0xffffff;
      if (!reader_u32 (&b, &track_id) ||
          ((flags & TFHD_BASE_DATA_OFFSET) && !reader_skip (&b, 8)) ||
          ((flags & TFHD_SAMPLE_DESC_INDEX) && !reader_skip (&b, 4)) ||
          ((flags & TFHD_DEFAULT_DURATION) &&
           !reader_u32 (&b, &tfhd_default_duration)) ||
          ((flags & TFHD_DEFAULT_SIZE) && !reader_skip (&b, 4)) ||
          ((flags & TFHD_DEFAULT_FLAGS) &&
           !reader_u32 (&b, &tfhd_default_flags))) {
        g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                             "Truncated tfhd box");
        return FALSE;
      }
      tfhd_flags = flags;
      have_tfhd = TRUE;
      continue;
    }

    if (child.type == BOX_TFDT) {
      guint32 decode32;

      /* version 1: 64 bits, else 32 */
      if (!reader_full_box_header (&b, &vf, "tfdt", error))
        return FALSE;
      if ((vf >> 24) == 1 ? !reader_u64 (&b, &t.decode_time)
                          : !reader_u32 (&b, &decode32)) {
        g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                             "Truncated tfdt box");
        return FALSE;
      }
      if ((vf >> 24) != 1)
        t.decode_time = decode32;
      t.have_decode_time = TRUE;
      continue;
    }

    if (child.type != BOX_TRUN)
      continue;

    if (!have_tfhd) {
      g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                           "trun box before tfhd");
      return FALSE;
    }
    defaults = trex_lookup (trex, n_trex, track_id);
    if (!reader_full_box_header (&b, &vf, "trun", error))
      return FALSE;
    flags = vf & 0xffffff;
    if (!reader_u32 (&b, &count) ||
        ((flags & TRUN_DATA_OFFSET) && !reader_skip (&b, 4))) {
      g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                           "Truncated trun box");
      return FALSE;
    }

    if (flags & TRUN_FIRST_SAMPLE_FLAGS) {
      guint32 fsf;

      if (!reader_u32 (&b, &fsf)) {
        g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                             "Truncated trun box");
        return FALSE;
      }
      if (!have_first && count > 0) {
        first_flags = fsf;
        have_first = TRUE;
      }
    }

    /* Each sample record holds the optional fields, 4 bytes each, in this
     * order: duration, size, flags, composition time offset. */
    if (flags & TRUN_SAMPLE_DURATION)
      record += 4;
    if (flags & TRUN_SAMPLE_SIZE)
      record += 4;
    if (flags & TRUN_SAMPLE_FLAGS)
      record += 4;
    if (flags & TRUN_SAMPLE_CTO)
      record += 4;
    if ((guint64) count * record > reader_left (&b)) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                   "trun box claims %u samples but holds %" G_GSIZE_FORMAT
                   " bytes of sample records", count, reader_left (&b));
      return FALSE;
    }

    if (flags & TRUN_SAMPLE_DURATION) {
      Reader s = b;

      /* Bounds checked above: every record is all there. */
      for (guint32 i = 0; i < count; i++) {
        guint32 d;

        reader_u32 (&s, &d);
        reader_skip (&s, record - 4);
        t.duration += d;
      }
    } else if (tfhd_flags & TFHD_DEFAULT_DURATION) {
      t.duration += (guint64) count * tfhd_default_duration;
    } else if (defaults != NULL) {
      t.duration += (guint64) count * defaults->default_sample_duration;
    } else {
      t.have_duration = FALSE;
    }

    if (!have_first && count > 0) {
      if (flags & TRUN_SAMPLE_FLAGS) {
        Reader s = b;
        guint32 sf;

        /* Bounds checked above: the first record is all there. */
        reader_skip (&s, (flags & TRUN_SAMPLE_DURATION ? 4 : 0) +
                         (flags & TRUN_SAMPLE_SIZE ? 4 : 0));
        reader_u32 (&s, &sf);
        first_flags = sf;
        have_first = TRUE;
      } else if (tfhd_flags & TFHD_DEFAULT_FLAGS) {
        first_flags = tfhd_default_flags;
        have_first = TRUE;
      } else if (defaults != NULL) {
        first_flags = defaults->default_sample_flags;
        have_first = TRUE;
      } else if (keyframe == NULL) {
        /* Only counting samples: the flags do not matter. */
        have_first = TRUE;
      } else {
        g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                             "Fragment does not say whether its first sample "
                             "is a sync sample");
        return FALSE;
      }
    }

    samples += count;
  }

  if (!have_first || samples == 0) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                         "Fragment holds no samples");
    return FALSE;
  }
  if (samples > G_MAXUINT) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                         "Fragment claims too many samples");
    return FALSE;
  }

  if (keyframe)
    *keyframe = (first_flags & SAMPLE_IS_NON_SYNC) == 0;
  if (n_samples)
    *n_samples = (guint) samples;
  if (track_out)
    *track_out = track_id;
  if (time)
    *time = t;
  return TRUE;
}

/* The body of the first child of type @type in @parent's body. */
static gboolean
find_child (const Box *parent, guint32 type, Box *child)
{
  Reader r = { parent->body, parent->body_len, 0 };

  while (reader_left (&r) > 0) {
    if (!reader_box (&r, child, NULL))
      return FALSE;
    if (child->type == type)
      return TRUE;
  }
  return FALSE;
}

/* A trak's handler type (mdia/hdlr) and its first sample entry's type. */
static gboolean
trak_sample_entry (const Box *trak, guint32 *handler, guint32 *entry_type)
{
  Box mdia, hdlr, minf, stbl, stsd, entry;
  Reader r;
  guint32 vf, count;

  if (!find_child (trak, BOX_MDIA, &mdia) ||
      !find_child (&mdia, BOX_HDLR, &hdlr) ||
      !find_child (&mdia, BOX_MINF, &minf) ||
      !find_child (&minf, BOX_STBL, &stbl) ||
      !find_child (&stbl, BOX_STSD, &stsd))
    return FALSE;

  /* hdlr: version/flags, pre_defined, handler_type */
  r = (Reader) { hdlr.body, hdlr.body_len, 0 };
  if (!reader_u32 (&r, &vf) || !reader_skip (&r, 4) ||
      !reader_u32 (&r, handler))
    return FALSE;

  /* stsd: version/flags, entry_count, then the entries as boxes */
  r = (Reader) { stsd.body, stsd.body_len, 0 };
  if (!reader_u32 (&r, &vf) || !reader_u32 (&r, &count) || count == 0 ||
      !reader_box (&r, &entry, NULL))
    return FALSE;
  *entry_type = entry.type;
  return TRUE;
}

/* A trak's track_ID, from its tkhd (version 0 or 1). */
static gboolean
trak_track_id (const Box *trak, guint32 *track_id)
{
  Box tkhd;
  Reader r;
  guint32 vf;

  if (!find_child (trak, BOX_TKHD, &tkhd))
    return FALSE;
  r = (Reader) { tkhd.body, tkhd.body_len, 0 };
  /* version/flags, creation and modification times (64-bit in version 1) */
  return reader_u32 (&r, &vf) &&
         reader_skip (&r, (vf >> 24) == 1 ? 16 : 8) &&
         reader_u32 (&r, track_id);
}

/* Reads the per-track defaults of an mvex's trex boxes into @trex (at most
 * MAX_TREX). */
static gboolean
read_mvex (const Box *mvex, Trex *trex, guint *n_trex, GError **error)
{
  Reader m = { mvex->body, mvex->body_len, 0 };
  Box child;

  while (reader_left (&m) > 0) {
    Reader t;
    guint32 vf, track_id, duration, flags;

    if (!reader_box (&m, &child, error))
      return FALSE;
    if (child.type != BOX_TREX)
      continue;

    /* version/flags, track_ID, default sample description index,
     * duration, size, flags */
    t = (Reader) { child.body, child.body_len, 0 };
    if (!reader_u32 (&t, &vf) || !reader_u32 (&t, &track_id) ||
        !reader_skip (&t, 4) || !reader_u32 (&t, &duration) ||
        !reader_skip (&t, 4) || !reader_u32 (&t, &flags)) {
      g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                           "Truncated trex box");
      return FALSE;
    }
    if (*n_trex < MAX_TREX) {
      trex[*n_trex].track_id = track_id;
      trex[*n_trex].default_sample_duration = duration;
      trex[*n_trex].default_sample_flags = flags;
      (*n_trex)++;
    }
  }
  return TRUE;
}

/* Remembers the per-track defaults of moov/mvex/trex, and which track is
 * the video (the first trak with a "vide" handler). */
static gboolean
parse_moov (HearthFmp4Splitter *self, const guint8 *moov, gsize len,
            GError **error)
{
  Box moov_box, child;
  Reader r;

  if (!reader_whole_box (moov, len, BOX_MOOV, &moov_box, error))
    return FALSE;

  self->n_trex = 0;
  self->have_video_track = FALSE;
  r = (Reader) { moov_box.body, moov_box.body_len, 0 };
  while (reader_left (&r) > 0) {
    if (!reader_box (&r, &child, error))
      return FALSE;
    if (child.type == BOX_TRAK && !self->have_video_track) {
      guint32 handler, entry_type, track_id;

      if (trak_sample_entry (&child, &handler, &entry_type) &&
          handler == HANDLER_VIDE && trak_track_id (&child, &track_id)) {
        self->video_track_id = track_id;
        self->have_video_track = TRUE;
      }
      continue;
    }
    if (child.type == BOX_MVEX &&
        !read_mvex (&child, self->trex, &self->n_trex, error))
      return FALSE;
  }
  return TRUE;
}

/**
 * hearth_fmp4_moof_starts_with_keyframe:
 * @moof: a whole moof box, possibly followed by more (e.g. its mdat)
 * @keyframe: (out): whether the first sample of the first track fragment is
 *   a sync sample
 *
 * Without the init segment's trex defaults, a moof that relies on them is an
 * error.
 *
 * Returns: FALSE with HEARTH_ERROR_MEDIA if the moof is malformed.
 */
gboolean
hearth_fmp4_moof_starts_with_keyframe (const guint8 *moof, gsize len,
                                       gboolean *keyframe, GError **error)
{
  g_return_val_if_fail (moof != NULL || len == 0, FALSE);
  g_return_val_if_fail (keyframe != NULL, FALSE);

  return parse_moof (moof, len, NULL, 0, keyframe, NULL, NULL, NULL, error);
}

/**
 * hearth_fmp4_moof_get_sample_count:
 * @moof: a whole moof box, possibly followed by more (e.g. its mdat)
 * @n_samples: (out): samples in its first track fragment
 *
 * Returns: FALSE with HEARTH_ERROR_MEDIA if the moof is malformed.
 */
gboolean
hearth_fmp4_moof_get_sample_count (const guint8 *moof, gsize len,
                                   guint *n_samples, GError **error)
{
  g_return_val_if_fail (moof != NULL || len == 0, FALSE);
  g_return_val_if_fail (n_samples != NULL, FALSE);

  return parse_moof (moof, len, NULL, 0, NULL, n_samples, NULL, NULL, error);
}

HearthFmp4Splitter *
hearth_fmp4_splitter_new (void)
{
  HearthFmp4Splitter *self = g_new0 (HearthFmp4Splitter, 1);

  self->pending = g_byte_array_new ();
  g_queue_init (&self->units);
  return self;
}

void
hearth_fmp4_splitter_free (HearthFmp4Splitter *self)
{
  if (self == NULL)
    return;
  g_byte_array_unref (self->pending);
  g_queue_clear_full (&self->units, (GDestroyNotify) unit_free);
  g_clear_pointer (&self->ftyp, g_bytes_unref);
  g_clear_pointer (&self->moof, g_bytes_unref);
  g_clear_error (&self->error);
  g_free (self);
}

static void
emit_unit (HearthFmp4Splitter *self, HearthFmp4Kind kind,
           GBytes *first, const guint8 *second, gsize second_len,
           gboolean keyframe)
{
  gsize first_len = g_bytes_get_size (first);
  guint8 *data = g_malloc (first_len + second_len);
  Unit *unit = g_new0 (Unit, 1);

  /* One contiguous allocation per unit: every subscriber then shares it. */
  memcpy (data, g_bytes_get_data (first, NULL), first_len);
  memcpy (data + first_len, second, second_len);
  unit->kind = kind;
  unit->bytes = g_bytes_new_take (data, first_len + second_len);
  unit->keyframe = keyframe;
  g_queue_push_tail (&self->units, unit);
}

/* Acts on one whole top-level box. */
static gboolean
handle_box (HearthFmp4Splitter *self, guint32 type, const guint8 *box,
            gsize len, GError **error)
{
  guint32 track_id = 0;

  switch (type) {
  case BOX_FTYP:
    /* After fragments, between fragments: the muxer was replaced. */
    if ((self->have_init && !self->have_fragment) || self->ftyp != NULL ||
        self->moof != NULL) {
      g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                           "A second ftyp box in one stream");
      return FALSE;
    }
    self->started = TRUE;
    self->have_init = self->have_fragment = FALSE;
    self->ftyp = g_bytes_new (box, len);
    return TRUE;

  case BOX_MOOV:
    if (self->ftyp == NULL) {
      g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                           "moov box without a preceding ftyp");
      return FALSE;
    }
    if (!parse_moov (self, box, len, error))
      return FALSE;
    emit_unit (self, HEARTH_FMP4_INIT, self->ftyp, box, len, FALSE);
    g_clear_pointer (&self->ftyp, g_bytes_unref);
    self->have_init = TRUE;
    return TRUE;

  case BOX_MOOF:
    if (!self->have_init) {
      g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                           "Fragment before the init segment");
      return FALSE;
    }
    if (self->moof != NULL) {
      g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                           "moof box without an mdat");
      return FALSE;
    }
    if (!parse_moof (box, len, self->trex, self->n_trex,
                     &self->moof_keyframe, NULL, &track_id, NULL, error))
      return FALSE;
    /* Another track's sample (AAC) is a sync sample, but no keyframe. */
    self->moof_audio = self->have_video_track &&
                       track_id != self->video_track_id;
    if (self->moof_audio)
      self->moof_keyframe = FALSE;
    self->moof = g_bytes_new (box, len);
    return TRUE;

  case BOX_MDAT:
    if (self->moof == NULL) {
      g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                           "mdat box without a moof");
      return FALSE;
    }
    emit_unit (self,
               self->moof_audio ? HEARTH_FMP4_AUDIO : HEARTH_FMP4_FRAGMENT,
               self->moof, box, len, self->moof_keyframe);
    g_clear_pointer (&self->moof, g_bytes_unref);
    self->have_fragment = TRUE;
    return TRUE;

  default:
    /* free, skip, sidx, mfra, …: nothing a live player needs. */
    return TRUE;
  }
}

/**
 * hearth_fmp4_splitter_push:
 * @data: (array length=len): the next bytes of mp4mux output, cut anywhere
 *
 * Returns: FALSE with HEARTH_ERROR_MEDIA on a malformed stream; every later
 *   push fails the same way.
 */
gboolean
hearth_fmp4_splitter_push (HearthFmp4Splitter *self, const guint8 *data,
                           gsize len, GError **error)
{
  gsize off = 0;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);

  if (self->error != NULL) {
    g_propagate_error (error, g_error_copy (self->error));
    return FALSE;
  }

  if (len > G_MAXUINT - self->pending->len) {
    g_set_error_literal (&self->error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                         "Too much unsplit data");
    goto failed;
  }
  g_byte_array_append (self->pending, data, (guint) len);

  for (;;) {
    const guint8 *at = self->pending->data + off;
    gsize left = self->pending->len - off;
    guint32 type;
    gsize header_len;
    guint64 box_len;
    gboolean need_more;

    if (!parse_box_header (at, left, &type, &header_len, &box_len,
                           &need_more, &self->error))
      goto failed;
    if (need_more)
      break;
    /* Refuse a stream that does not start with ftyp before waiting for
     * the rest of a box that may never come. */
    if (!self->started && type != BOX_FTYP) {
      char name[5];

      fourcc_to_string (type, name);
      g_set_error (&self->error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                   "Stream starts with a \"%s\" box, not ftyp", name);
      goto failed;
    }
    if (box_len > left)
      break;
    if (!handle_box (self, type, at, (gsize) box_len, &self->error))
      goto failed;
    off += (gsize) box_len;
  }

  if (off > 0)
    g_byte_array_remove_range (self->pending, 0, (guint) off);
  return TRUE;

failed:
  g_byte_array_set_size (self->pending, 0);
  g_clear_pointer (&self->ftyp, g_bytes_unref);
  g_clear_pointer (&self->moof, g_bytes_unref);
  g_propagate_error (error, g_error_copy (self->error));
  return FALSE;
}

/**
 * hearth_fmp4_splitter_pop:
 * @kind: (out): what the unit is
 * @bytes: (out) (transfer full): ftyp+moov, or moof+mdat
 * @keyframe: (out) (optional): for a fragment, whether it starts with a
 *   sync sample; FALSE for the init segment
 *
 * Returns: FALSE if no complete unit is waiting.
 */
gboolean
hearth_fmp4_splitter_pop (HearthFmp4Splitter *self, HearthFmp4Kind *kind,
                          GBytes **bytes, gboolean *keyframe)
{
  Unit *unit;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (kind != NULL, FALSE);
  g_return_val_if_fail (bytes != NULL, FALSE);

  unit = g_queue_pop_head (&self->units);
  if (unit == NULL)
    return FALSE;

  *kind = unit->kind;
  *bytes = g_steal_pointer (&unit->bytes);
  if (keyframe)
    *keyframe = unit->keyframe;
  g_free (unit);
  return TRUE;
}

/**
 * hearth_fmp4_fragment_find_mdat:
 * @payload: (out) (transfer none): points into @data
 * @size: (out): the payload's size
 *
 * Walks the top-level boxes of @data (a fragment as the splitter returns it).
 *
 * Returns: TRUE if an mdat box lies wholly within @data
 */
gboolean
hearth_fmp4_fragment_find_mdat (const guint8 *data, gsize len,
                                const guint8 **payload, gsize *size)
{
  gsize pos = 0;

  g_return_val_if_fail (payload != NULL && size != NULL, FALSE);

  while (data != NULL && len - pos >= 8) {
    guint64 box = ((guint64) data[pos] << 24) | (data[pos + 1] << 16) |
                  (data[pos + 2] << 8) | data[pos + 3];
    gsize header = 8;

    if (box == 1) {
      if (len - pos < 16)
        return FALSE;
      box = 0;
      for (guint i = 0; i < 8; i++)
        box = (box << 8) | data[pos + 8 + i];
      header = 16;
    }
    if (box < header || box > len - pos)
      return FALSE;
    if (memcmp (data + pos + 4, "mdat", 4) == 0) {
      *payload = data + pos + header;
      *size = box - header;
      return TRUE;
    }
    pos += box;
  }
  return FALSE;
}

/* The moov box among the top-level boxes of an init segment. */
static gboolean
init_find_moov (const guint8 *init, gsize len, Box *moov)
{
  Reader top = { init, len, 0 };

  while (init != NULL && reader_left (&top) > 0) {
    if (!reader_box (&top, moov, NULL))
      return FALSE;
    if (moov->type == BOX_MOOV)
      return TRUE;
  }
  return FALSE;
}

/* The first sample entry type of the first track with @handler. */
static gboolean
init_find_sample_entry (const guint8 *init, gsize len, guint32 wanted,
                        char fourcc[5])
{
  Box moov, box;
  Reader r;

  g_return_val_if_fail (fourcc != NULL, FALSE);

  if (!init_find_moov (init, len, &moov))
    return FALSE;

  r = (Reader) { moov.body, moov.body_len, 0 };
  while (reader_left (&r) > 0) {
    guint32 handler, entry_type;

    if (!reader_box (&r, &box, NULL))
      return FALSE;
    if (box.type == BOX_TRAK &&
        trak_sample_entry (&box, &handler, &entry_type) &&
        handler == wanted) {
      fourcc_to_string (entry_type, fourcc);
      return TRUE;
    }
  }
  return FALSE;
}

/**
 * hearth_fmp4_init_get_sample_entry:
 * @init: an init segment (ftyp+moov), as the splitter returns it
 * @fourcc: (out caller-allocates): the sample entry type of the first video
 *   track, e.g. "avc1" or "hvc1"
 *
 * Every read is bounds-checked: a malformed init only gives FALSE.
 *
 * Returns: TRUE if a video track with a sample entry was found
 */
gboolean
hearth_fmp4_init_get_sample_entry (const guint8 *init, gsize len,
                                   char fourcc[5])
{
  return init_find_sample_entry (init, len, HANDLER_VIDE, fourcc);
}

/**
 * hearth_fmp4_init_get_audio_sample_entry:
 * @fourcc: (out caller-allocates): the sample entry type of the first audio
 *   track, e.g. "mp4a" (AAC)
 *
 * As hearth_fmp4_init_get_sample_entry(), for the "soun" handler.
 *
 * Returns: TRUE if an audio track with a sample entry was found
 */
gboolean
hearth_fmp4_init_get_audio_sample_entry (const guint8 *init, gsize len,
                                         char fourcc[5])
{
  return init_find_sample_entry (init, len, HANDLER_SOUN, fourcc);
}

/* A trak's timescale (mdia/mdhd, version 0 or 1): its ticks per second. */
static gboolean
trak_timescale (const Box *trak, guint32 *timescale)
{
  Box mdia, mdhd;
  Reader r;
  guint32 vf;

  if (!find_child (trak, BOX_MDIA, &mdia) ||
      !find_child (&mdia, BOX_MDHD, &mdhd))
    return FALSE;
  r = (Reader) { mdhd.body, mdhd.body_len, 0 };
  /* version/flags, creation and modification times (64-bit in version 1) */
  return reader_u32 (&r, &vf) &&
         reader_skip (&r, (vf >> 24) == 1 ? 16 : 8) &&
         reader_u32 (&r, timescale) && *timescale > 0;
}

/**
 * hearth_fmp4_fragment_get_time:
 * @init: the init segment (ftyp+moov) the fragment belongs to
 * @fragment: a fragment (moof+mdat), as the splitter returns it
 * @decode_time: (out): the decode time of its first sample (tfdt), in
 *   @timescale units
 * @duration: (out): the duration of all its samples, in @timescale units
 * @timescale: (out): its track's ticks per second (mdhd)
 *
 * Every read is bounds-checked.
 *
 * Returns: FALSE with HEARTH_ERROR_MEDIA if a box is malformed, or the
 *   fragment or its track in @init does not say one of them
 */
gboolean
hearth_fmp4_fragment_get_time (const guint8 *init, gsize init_len,
                               const guint8 *fragment, gsize len,
                               guint64 *decode_time, guint64 *duration,
                               guint32 *timescale, GError **error)
{
  Trex trex[MAX_TREX];
  guint n_trex = 0;
  gboolean have_timescale = FALSE;
  FragmentTime t;
  guint32 track_id;
  Box moov, box;
  Reader r;

  g_return_val_if_fail (decode_time != NULL && duration != NULL &&
                        timescale != NULL, FALSE);

  if (!init_find_moov (init, init_len, &moov)) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                         "Init segment without a moov box");
    return FALSE;
  }
  r = (Reader) { moov.body, moov.body_len, 0 };
  while (reader_left (&r) > 0) {
    if (!reader_box (&r, &box, error))
      return FALSE;
    if (box.type == BOX_MVEX && !read_mvex (&box, trex, &n_trex, error))
      return FALSE;
  }

  if (!parse_moof (fragment, len, trex, n_trex, NULL, NULL, &track_id, &t,
                   error))
    return FALSE;

  r = (Reader) { moov.body, moov.body_len, 0 };
  while (reader_left (&r) > 0 && !have_timescale) {
    guint32 id;

    if (!reader_box (&r, &box, error))
      return FALSE;
    if (box.type == BOX_TRAK && trak_track_id (&box, &id) && id == track_id)
      have_timescale = trak_timescale (&box, timescale);
  }

  if (!t.have_decode_time || !t.have_duration || !have_timescale) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                 "Fragment of track %u does not say its %s", track_id,
                 !t.have_decode_time ? "decode time (no tfdt)"
                 : !t.have_duration ? "sample durations"
                 : "timescale (no mdhd in its trak)");
    return FALSE;
  }
  *decode_time = t.decode_time;
  *duration = t.duration;
  return TRUE;
}
