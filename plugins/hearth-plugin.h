/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/*
 * The camera plugin interface.
 *
 * A camera driver is a shared module in the plugin directory (hearthd's
 * --plugin-dir, or [cameras] plugin-dir in hearth.conf; else the environment
 * variable HEARTH_PLUGIN_DIR; else LIBDIR/hearth/plugins) that exports one
 * symbol, hearth_plugin_get, returning a static HearthPlugin. hearthd loads
 * every *.so there at start, in file name order, and never unloads one. It
 * skips, with one warning each, a module that anyone may write to, does not
 * load, lacks the symbol, has another abi than HEARTH_PLUGIN_ABI, has no
 * valid name or the name of a plugin already loaded, claims a URL scheme an
 * earlier module claimed, claims service types without score and
 * build_url, claims a URL scheme other than rtsp/rtsps without
 * build_source, has a discovery_type without all four of discovery_start,
 * discovery_stop, resolve_async and resolve_finish (or one of those without
 * a discovery_type), or claims nothing at all.
 *
 * A plugin claims mDNS service types and URL schemes. For a discovered
 * service the gateway asks every plugin that claims its type for a score and
 * gives the service to the highest (0 = not mine). At adoption and after every
 * address change the winning plugin builds the camera's URL from the service;
 * for a manually added camera the plugin that claims the URL's scheme is used.
 * An rtsp:// or rtsps:// URL is ingested by the gateway itself (rtspsrc, TCP,
 * credentials as properties); a plugin with build_source (e.g. synthetic:)
 * supplies its own GStreamer element instead.
 *
 * ABI 2 adds what a camera found by another protocol than mDNS needs (ONVIF
 * WS-Discovery: plugins/onvif.c), all optional, so that an mDNS plugin is
 * written as before:
 *
 *   - its own discovery: hearthd calls discovery_start once, on its main
 *     context, after the plugins loaded, with HearthDiscoveryHooks (report a
 *     found or changed device, withdraw one, the local networks), and
 *     discovery_stop at shutdown. The plugin must not block: sockets are
 *     GSource-driven on the thread-default main context. What it reports
 *     has service->type == its discovery_type; the gateway (not the plugin)
 *     checks that the address is local (invariant 7), that the name is
 *     text, and bounds the number of devices, exactly as for mDNS.
 *   - an asynchronous resolution of the stream URLs, with the camera's
 *     credentials, at adoption and whenever the device is seen at a new
 *     address (resolve_async / resolve_finish, on the main context). The
 *     gateway checks the URLs it gets like any other camera URL (local
 *     address) and also that they point at the device's own address.
 *     A device that refuses the credentials fails with
 *     HEARTH_PLUGIN_ERROR_NOT_AUTHORIZED.
 *
 * Plugins report errors in HEARTH_PLUGIN_ERROR: INVALID for what no retry can
 * fix (a hostile path, an unknown option), FAILED for anything else. Messages
 * are for people and never hold a credential.
 *
 * Everything a plugin gets comes from the network and is hostile until
 * proven otherwise: TXT values may be any bytes, any length up to 255. The
 * gateway has already checked that the address is local (invariant 7) and
 * that keys are printable ASCII; plugins must still treat values as
 * untrusted, must not block, and run on hearthd's main thread.
 *
 * Example: a plugin for cameras announcing "_example-cam._tcp" with their
 * stream path in TXT "stream=":
 *
 *   static const char *const types[] = { "_example-cam._tcp", NULL };
 *
 *   static int
 *   example_score (const HearthService *service)
 *   {
 *     return hearth_service_get_txt (service, "stream") ? 50 : 0;
 *   }
 *
 *   static char *
 *   example_build_url (const HearthService *service, GError **error)
 *   {
 *     return hearth_service_build_rtsp_url (service, "rtsp",
 *         hearth_service_get_txt (service, "stream"), error);
 *   }
 *
 *   static const HearthPlugin plugin = {
 *     .abi = HEARTH_PLUGIN_ABI,
 *     .name = "example",
 *     .description = "Example cameras (RTSP path from TXT stream=)",
 *     .service_types = types,
 *     .score = example_score,
 *     .build_url = example_build_url,
 *   };
 *
 *   HEARTH_PLUGIN_EXPORT const HearthPlugin *
 *   hearth_plugin_get (void)
 *   {
 *     return &plugin;
 *   }
 */

#include <glib.h>
#include <gio/gio.h>
#include <gmodule.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define HEARTH_PLUGIN_ABI 2
#define HEARTH_PLUGIN_SYMBOL "hearth_plugin_get"
#define HEARTH_PLUGIN_EXPORT G_MODULE_EXPORT

/* A resolved mDNS service, as the gateway hands it to plugins. */
typedef struct {
  const char *type;       /* "_rtsp._tcp" */
  const char *name;       /* instance name (UTF-8, ≤ 63 bytes) */
  const char *domain;     /* "local" */
  const char *host_name;  /* "cam-1234.local" */
  const char *address;    /* numeric, checked local; IPv6 without brackets */
  guint16 port;
  /* TXT: key (printable ASCII, lower-cased) → value (NUL-terminated copy;
   * values holding a NUL byte were dropped). */
  GHashTable *txt;
} HearthService;

/* What identifies a camera besides its address. Any field may be NULL. */
typedef struct {
  char *txt_id;     /* TXT id= (or a vendor's equivalent) */
  char *serial;     /* TXT serial= */
  char *mac;        /* lower-case aa:bb:cc:dd:ee:ff, from TXT mac= (or a
                     * vendor's equivalent), through hearth_mac_normalize */
  char *model;      /* for people only, never identity */
  char *maker;      /* for people only, never identity (ABI 2) */
} HearthEvidence;

/*
 * What a plugin's own discovery is given (ABI 2). Called on the main
 * context, from the plugin's own callbacks only.
 *
 * report: a device was found, or what it says changed. @id is the plugin's
 *   stable name for the device (e.g. its ONVIF endpoint reference); the
 *   gateway copies what it keeps. @service->address must be numeric.
 * withdraw: the device said goodbye (or the plugin stopped trusting it).
 */
typedef struct {
  void (*report) (gpointer gateway, const char *id, const HearthService *service);
  void (*withdraw) (gpointer gateway, const char *id);
  gpointer gateway;
  /* The local networks as "address/prefix" strings, NULL-terminated; the
   * plugin may use them to pick interfaces and to drop early what the
   * gateway would refuse anyway. */
  const char *const *local_networks;
} HearthDiscoveryHooks;

/* What resolve_finish gives (ABI 2). Strings are the plugin's to allocate
 * and the gateway's to free (hearth_resolved_clear). */
typedef struct {
  char *url;          /* the main stream, without credentials */
  char *sub_url;      /* (nullable) a second, smaller stream */
  char *service_url;  /* the device service the URLs came from */
  HearthEvidence evidence;
} HearthResolved;

typedef struct {
  guint abi;                        /* HEARTH_PLUGIN_ABI */
  const char *name;                 /* "rtsp", "axis", "synthetic": unique,
                                     * [a-z0-9-], at most 32 bytes */
  const char *description;          /* for people; may be NULL */
  const char *const *service_types; /* NULL-terminated; may be NULL */
  const char *const *url_schemes;   /* NULL-terminated, lower-case; may be
                                     * NULL */

  /* 0: not this plugin's; otherwise higher wins (generic RTSP uses 10). */
  int (*score) (const HearthService *service);
  /* The camera's URL for @service, without credentials. */
  char *(*build_url) (const HearthService *service, GError **error);
  /* Fills what the TXT records say about identity (fields start NULL). */
  void (*extract_evidence) (const HearthService *service,
                            HearthEvidence *evidence);
  /* For schemes the gateway does not ingest itself: an element (usually a
   * bin) with one always "src" pad producing video/x-h264 (any stream
   * format), live. Called at every (re)start of a camera whose URL has one
   * of this plugin's schemes, with that URL. NULL = the gateway's rtspsrc
   * ingest. (transfer floating) */
  GstElement *(*build_source) (const char *url, GError **error);

  /* ABI 2: a discovery of the plugin's own (see the top of this file). */
  /* The type of what it reports ([a-z0-9-], e.g. "onvif"); NULL: none. */
  const char *discovery_type;
  /* Starts it on the thread-default main context; @hooks outlives the
   * handle. Returns a handle for discovery_stop, NULL with @error set when
   * it cannot run (hearthd then runs without it). */
  gpointer (*discovery_start) (const HearthDiscoveryHooks *hooks, GError **error);
  /* Stops it: no hook is called after this returns. */
  void (*discovery_stop) (gpointer handle);
  /* Resolves @service's stream URLs with @user and @password (both NULL:
   * none). Completes on the thread-default main context of the call.
   * @user and @password are copied; they are secrets. */
  void (*resolve_async) (const HearthService *service, const char *user,
                         const char *password, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data);
  /* Fills @resolved (all NULL before); FALSE with @error otherwise. */
  gboolean (*resolve_finish) (GAsyncResult *result, HearthResolved *resolved,
                              GError **error);
} HearthPlugin;

typedef const HearthPlugin *(*HearthPluginGetFunc) (void);

/* The one symbol each plugin module defines (HEARTH_PLUGIN_SYMBOL). */
HEARTH_PLUGIN_EXPORT const HearthPlugin *hearth_plugin_get (void);

#define HEARTH_PLUGIN_ERROR (hearth_plugin_error_quark ())
GQuark hearth_plugin_error_quark (void);

typedef enum {
  HEARTH_PLUGIN_ERROR_FAILED,   /* anything a retry might fix */
  HEARTH_PLUGIN_ERROR_INVALID,  /* bad input: URL, option, TXT value */
  HEARTH_PLUGIN_ERROR_NOT_AUTHORIZED,  /* the device refused the credentials */
} HearthPluginError;

/*
 * Helpers plugins may call. They live in the static library
 * hearth-plugin-support (plugins/support.c), which every plugin module and
 * hearthd link, so that a plugin needs no symbol from hearthd.
 */

/* TXT value of @key (lower-case), or NULL. Any bytes: untrusted. */
const char *hearth_service_get_txt (const HearthService *service, const char *key);
/* TXT value of @key if it is non-empty, valid UTF-8 and holds no control or
 * format character (no escape sequence, no bidi override), so that it can be
 * shown to people and stored; else NULL. */
const char *hearth_service_get_txt_printable (const HearthService *service,
                                              const char *key);
/* "SCHEME://ADDRESS:PORT/PATH" with IPv6 bracketed (a zone as "%25zone")
 * and @path normalised to start with '/' ("" or NULL → "/"). @scheme is
 * "rtsp" or "rtsps"; the address must be numeric and the port non-zero.
 * Rejects (HEARTH_PLUGIN_ERROR_INVALID) paths longer than 1024 bytes,
 * holding "..", or any byte but letters, digits and - . _ ~ ! $ & ' ( ) * +
 * , ; = : / — so no control characters, spaces, '#', '?', '@', '%' or
 * non-ASCII. (transfer full) */
char *hearth_service_build_rtsp_url (const HearthService *service,
                                     const char *scheme, const char *path,
                                     GError **error);
/* Normalises "AA-BB-CC-DD-EE-FF", "aabbccddeeff" or "aa:bb:…" to
 * "aa:bb:cc:dd:ee:ff"; NULL when it is not the MAC of one device (not
 * six bytes, mixed separators, all zeros, or a group address).
 * (transfer full) */
char *hearth_mac_normalize (const char *text);

/* Frees every field and sets it to NULL. */
void hearth_evidence_clear (HearthEvidence *evidence);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (HearthEvidence, hearth_evidence_clear)
/* Frees every field (the evidence too) and sets it to NULL. */
void hearth_resolved_clear (HearthResolved *resolved);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (HearthResolved, hearth_resolved_clear)

G_END_DECLS
