/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * g_auto() cleanups for third-party types. Each group is defined only if the
 * includer has already included that library's header, so including this file
 * never pulls a library in by itself.
 *
 * GnuTLS handles are pointer typedefs, so they are used as
 * `g_auto (gnutls_x509_crt_t) crt = NULL;` (G_DEFINE_AUTO_CLEANUP_FREE_FUNC),
 * the way GLib handles GStrv.
 */

#include <glib.h>

#ifdef SQLITE3_H
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)
#endif

#ifdef GNUTLS_GNUTLS_H
static inline void
hearth_gnutls_datum_clear (gnutls_datum_t *datum)
{
  gnutls_free (datum->data);
  datum->data = NULL;
  datum->size = 0;
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (gnutls_datum_t, hearth_gnutls_datum_clear)
#endif

#ifdef GNUTLS_X509_H
static inline void
hearth_gnutls_x509_trust_list_free (gnutls_x509_trust_list_t list)
{
  /* Also frees the certificates the list took ownership of. */
  gnutls_x509_trust_list_deinit (list, 1);
}
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_crt_t, gnutls_x509_crt_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_privkey_t, gnutls_x509_privkey_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_trust_list_t, hearth_gnutls_x509_trust_list_free, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_name_constraints_t, gnutls_x509_name_constraints_deinit, NULL)
#endif

#ifdef GNUTLS_PKCS12_H
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_pkcs12_t, gnutls_pkcs12_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_pkcs12_bag_t, gnutls_pkcs12_bag_deinit, NULL)
#endif

#ifdef GNUTLS_ABSTRACT_H
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_privkey_t, gnutls_privkey_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_pubkey_t, gnutls_pubkey_deinit, NULL)
#endif
