/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define HEARTH_ERROR (hearth_error_quark ())
GQuark hearth_error_quark (void);

/**
 * HearthError:
 * One error domain for the whole gateway. Callers branch on these codes; the
 * message is for people and never carries a secret.
 */
typedef enum {
  HEARTH_ERROR_FAILED,        /* anything without a better code */
  HEARTH_ERROR_INVALID,       /* bad input: argument, config, payload, request */
  HEARTH_ERROR_NOT_FOUND,     /* no such thing, or not yours (same answer) */
  HEARTH_ERROR_EXISTS,        /* a name already taken */
  HEARTH_ERROR_DENIED,        /* identity refused: unknown, revoked, wrong CA */
  HEARTH_ERROR_NOT_LOCAL,     /* an address outside the local ranges */
  HEARTH_ERROR_TOKEN_INVALID, /* pairing token matches no window */
  HEARTH_ERROR_TOKEN_EXPIRED, /* pairing window closed by time */
  HEARTH_ERROR_TOKEN_SPENT,   /* pairing token already used */
  HEARTH_ERROR_RATE_LIMITED,  /* too many failures from one peer */
  HEARTH_ERROR_STORE,         /* SQLite said no */
  HEARTH_ERROR_TLS,           /* key, certificate or TLS set-up */
  HEARTH_ERROR_MEDIA,         /* GStreamer pipeline or stream data */
  HEARTH_ERROR_LIMIT,         /* a resource limit was reached */
  HEARTH_ERROR_QUARANTINED,   /* a camera whose identity evidence changed */
  HEARTH_ERROR_UNAVAILABLE,   /* nothing to serve now (a camera offline); ask
                                 again later */
} HearthError;

G_END_DECLS
