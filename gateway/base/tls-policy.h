/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The TLS that hearthd (both ports, and as a client of RTSPS cameras) and
 * hearth-display speak: TLS 1.3, or TLS 1.2 with ECDHE and an AEAD cipher;
 * AES-GCM first, chosen by the server (ChaCha20 is much slower on CPUs with
 * AES instructions). GnuTLS priority syntax.
 */
#define HEARTH_TLS_PRIORITY \
  "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2" \
  ":-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305" \
  ":-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA" \
  ":%SAFE_RENEGOTIATION:%SERVER_PRECEDENCE"

/*
 * glib-networking's GnuTLS backend reads its priority string from
 * G_TLS_GNUTLS_PRIORITY once, when the first TLS connection is made (else it
 * takes the machine's default); call this first thing in main(), before
 * anything may open one. Overrides any value in the environment.
 */
static inline void
hearth_tls_policy_apply (void)
{
  g_setenv ("G_TLS_GNUTLS_PRIORITY", HEARTH_TLS_PRIORITY, TRUE);
}

G_END_DECLS
