/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The stream port's routing, without a socket: the table HearthHttpServer
 * builds as each route registers itself (api-*.c), asked what a path is
 * routed to and with which captures; hostile paths (climbing, encoded or
 * doubled slashes, empty segments, overlong ids) reach no route or reach one
 * with a capture that names no camera; each route's methods; the exit's
 * check (invariant 3) tells a camera's main and sub streams apart. The
 * routes' answers themselves are tried end to end (tests/e2e/access.sh,
 * tests/e2e/substream.sh).
 */
#include <string.h>

#include "fixture.h"
#include "http-server.h"

typedef struct {
  HearthTestFixture base;
  HearthConfig *config;
  HearthStore *store;
  HearthNetRanges *ranges;
  HearthAccess *access;
  HearthPlugins *plugins;
  HearthCameras *cameras;
  HearthHttpServer *server;
  HearthHttpRoutes *routes;     /* the server's */
} Fixture;

#define CAMERA "0a5b0d34-6d2e-4c38-9d4c-37b1a9e0f001"
#define CAMERA_OTHER "0a5b0d34-6d2e-4c38-9d4c-37b1a9e0f002"

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *db = NULL;

  hearth_test_fixture_setup (&f->base, data);
  f->config = hearth_config_load (NULL, &error);
  g_assert_no_error (error);
  db = g_build_filename (f->base.state_dir, "hearth.db", NULL);
  f->store = hearth_store_open (db, &error);
  g_assert_no_error (error);
  f->ranges = hearth_net_ranges_parse ("127.0.0.1/32", &error);
  g_assert_no_error (error);
  f->access = hearth_access_new (f->store, f->ranges);
  f->plugins = hearth_plugins_load (hearth_plugins_default_dir (), &error);
  g_assert_no_error (error);
  f->cameras = hearth_cameras_new (f->config, f->store, f->plugins);
  f->server = hearth_http_server_new (f->access, f->cameras, f->config);
  f->routes = hearth_http_server_get_routes (f->server);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  hearth_http_server_close (f->server);
  g_clear_object (&f->server);
  g_clear_object (&f->cameras);
  g_clear_object (&f->plugins);
  g_clear_object (&f->access);
  g_clear_object (&f->store);
  hearth_net_ranges_free (f->ranges);
  hearth_config_free (f->config);
  hearth_test_fixture_teardown (&f->base, data);
}

/* The name of the route @path reaches, with its captures joined by '|';
 * "none" if it reaches none. */
static char *
route_of (Fixture *f, const char *path)
{
  g_auto (GStrv) captures = NULL;
  const HearthHttpRoute *route = hearth_http_routes_match (f->routes, path,
                                                           &captures);
  g_autofree char *joined = NULL;

  if (route == NULL) {
    g_assert_null (captures);
    return g_strdup ("none");
  }
  if (captures[0] == NULL)
    return g_strdup (hearth_http_route_get_name (route));
  joined = g_strjoinv ("|", captures);
  return g_strconcat (hearth_http_route_get_name (route), " ", joined, NULL);
}

#define assert_route(f, path, expected)                  \
  G_STMT_START {                                         \
    g_autofree char *got_ = route_of ((f), (path));      \
    g_assert_cmpstr (got_, ==, (expected));              \
  } G_STMT_END

static void
test_every_route (Fixture *f, gconstpointer data)
{
  assert_route (f, "/", "viewer");
  assert_route (f, "/app/viewer.js", "viewer-files");
  assert_route (f, "/app/style.css", "viewer-files");
  assert_route (f, "/v1/cameras", "cameras");
  assert_route (f, "/v1/cameras/" CAMERA "/live.mp4", "live " CAMERA);
  assert_route (f, "/v1/cameras/" CAMERA "/snapshot.jpg", "snapshot " CAMERA);
  assert_route (f, "/v1/cameras/" CAMERA "/hls/index.m3u8",
                "hls " CAMERA "|index.m3u8");
  assert_route (f, "/v1/cameras/" CAMERA "/hls/init-3.mp4",
                "hls " CAMERA "|init-3.mp4");
  assert_route (f, "/v1/cameras/" CAMERA "/hls/part-3-120.m4s",
                "hls " CAMERA "|part-3-120.m4s");
  assert_route (f, "/v1/cameras/" CAMERA "/hls/seg-3-110.m4s",
                "hls " CAMERA "|seg-3-110.m4s");

  /* Each route keeps its own state, the server none of it. */
  g_assert_nonnull (hearth_http_routes_get_state (f->routes, "cameras"));
  g_assert_nonnull (hearth_http_routes_get_state (f->routes, "live"));
  g_assert_nonnull (hearth_http_routes_get_state (f->routes, "snapshot"));
  g_assert_nonnull (hearth_http_routes_get_state (f->routes, "hls"));
  g_assert_null (hearth_http_routes_get_state (f->routes, "nothing"));
  g_assert_cmpuint (hearth_http_server_get_n_streams (f->server), ==, 0);
  g_assert_cmpuint (hearth_http_server_count_viewers (f->server, CAMERA), ==, 0);
}

static void
test_hostile_paths (Fixture *f, gconstpointer data)
{
  const char *none[] = {
    "", "v1/cameras", "//", "/v1", "/v1/", "/V1/cameras", "/v1/cameras/",
    "/v1/cameras//live.mp4", "/v1/cameras/../live.mp4",
    "/v1/cameras/./live.mp4", "/v1/../v1/cameras/" CAMERA "/live.mp4",
    "/v1/cameras/" CAMERA "/../" CAMERA "/live.mp4",
    "/v1/cameras/" CAMERA, "/v1/cameras/" CAMERA "/",
    "/v1/cameras/" CAMERA "/live.mp4/", "/v1/cameras/" CAMERA "/live.mp4x",
    "/v1/cameras/" CAMERA "//live.mp4", "/v1/cameras/" CAMERA "/hls",
    "/v1/cameras/" CAMERA "/hls/", "/v1/cameras/" CAMERA "/hls/..",
    "/v1/cameras/" CAMERA "/hls/a/b", "/v1/cameras/" CAMERA "/hls//index.m3u8",
    /* An encoded slash, as libsoup decodes it for the handler. */
    "/v1/cameras/../../" CAMERA "/live.mp4", "/v1/cameras/a/b/live.mp4",
    "/app", "/app/", "/app/../v1/cameras", "/app//viewer.js", "/app/./viewer.js",
    "/index.html", "/v1/pair",
  };
  g_autoptr (GString) long_id = g_string_new (NULL);
  g_autofree char *long_path = NULL;
  g_autofree char *long_expected = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (none); i++) {
    g_test_message ("%s", none[i]);
    assert_route (f, none[i], "none");
  }

  /* What is not decoded is one segment, a name no camera has: the choke
   * point answers it 404 like any camera the display may not see. */
  assert_route (f, "/v1/cameras/..%2f..%2f" CAMERA "/live.mp4",
                "live ..%2f..%2f" CAMERA);
  assert_route (f, "/v1/cameras/%2e%2e/live.mp4", "live %2e%2e");
  assert_route (f, "/v1/cameras/...", "none");
  assert_route (f, "/v1/cameras/.../live.mp4", "live ...");

  /* An overlong id is routed whole, never cut to another camera's. */
  for (guint i = 0; i < 5000; i++)
    g_string_append_c (long_id, 'a');
  long_path = g_strconcat ("/v1/cameras/", long_id->str, "/live.mp4", NULL);
  long_expected = g_strconcat ("live ", long_id->str, NULL);
  assert_route (f, long_path, long_expected);
}

static void
test_methods (Fixture *f, gconstpointer data)
{
  const char *paths[] = {
    "/", "/app/viewer.js", "/v1/cameras", "/v1/cameras/" CAMERA "/live.mp4",
    "/v1/cameras/" CAMERA "/snapshot.jpg", "/v1/cameras/" CAMERA "/hls/index.m3u8",
  };

  /* Every route of the stream port reads; none takes a body. */
  for (guint i = 0; i < G_N_ELEMENTS (paths); i++) {
    const HearthHttpRoute *route = hearth_http_routes_match (f->routes, paths[i], NULL);

    g_assert_nonnull (route);
    g_assert_true (hearth_http_route_allows (route, SOUP_METHOD_GET));
    g_assert_true (hearth_http_route_allows (route, SOUP_METHOD_HEAD));
    g_assert_false (hearth_http_route_allows (route, SOUP_METHOD_POST));
    g_assert_false (hearth_http_route_allows (route, SOUP_METHOD_PUT));
    g_assert_false (hearth_http_route_allows (route, SOUP_METHOD_DELETE));
    g_assert_false (hearth_http_route_allows (route, SOUP_METHOD_OPTIONS));
  }
}

/* ---- the table alone ---- */

static void
never_called (HearthHttpRequest *request, gpointer state)
{
  g_assert_not_reached ();
}

static void
count_free (gpointer data)
{
  (*(guint *) data)++;
}

static void
test_table (void)
{
  g_autoptr (HearthHttpRoutes) routes = hearth_http_routes_new ();
  g_auto (GStrv) captures = NULL;
  const HearthHttpRoute *route;
  guint freed = 0;

  hearth_http_routes_add (routes, "a", "/x/{one}/y/{two}", HEARTH_HTTP_POST,
                          never_called, &freed, count_free);
  hearth_http_routes_add (routes, "b", "/x/{one}/y/*", HEARTH_HTTP_GET,
                          never_called, &freed, count_free);

  route = hearth_http_routes_match (routes, "/x/1/y/2", &captures);
  g_assert_cmpstr (hearth_http_route_get_name (route), ==, "a");
  g_assert_cmpstr (hearth_http_route_get_pattern (route), ==, "/x/{one}/y/{two}");
  g_assert_cmpuint (g_strv_length (captures), ==, 2);
  g_assert_cmpstr (captures[0], ==, "1");
  g_assert_cmpstr (captures[1], ==, "2");
  g_assert_true (hearth_http_route_allows (route, SOUP_METHOD_POST));
  g_assert_false (hearth_http_route_allows (route, SOUP_METHOD_GET));
  g_clear_pointer (&captures, g_strfreev);

  /* The first route that matches; "*" takes the rest, and some of it. */
  route = hearth_http_routes_match (routes, "/x/1/y/2/3", &captures);
  g_assert_cmpstr (hearth_http_route_get_name (route), ==, "b");
  g_assert_cmpstrv (captures, ((const char *[]) { "1", NULL }));
  g_clear_pointer (&captures, g_strfreev);
  g_assert_null (hearth_http_routes_match (routes, "/x/1/y", NULL));
  g_assert_null (hearth_http_routes_match (routes, "/", NULL));

  g_clear_pointer (&routes, hearth_http_routes_free);
  g_assert_cmpuint (freed, ==, 2);
}

/* The first chunk (its init segment) of a generation of @camera's stream
 * @kind: as a route takes it, with the stream's own identity. */
static HearthChunk *
first_chunk (HearthStream *stream)
{
  g_autoptr (GBytes) init = g_bytes_new_static ("init", 4);
  g_autoptr (GBytes) frame = g_bytes_new_static ("frame", 5);
  HearthSubscription *sub;
  HearthChunk *chunk;
  guint64 generation = hearth_stream_begin_generation (stream);

  g_assert_true (hearth_stream_push_init (stream, generation, init));
  g_assert_true (hearth_stream_push_fragment (stream, generation, frame, TRUE));
  sub = hearth_stream_subscribe (stream, (HearthStreamWakeFunc) g_nullify_pointer, NULL);
  chunk = hearth_subscription_next (sub);
  g_assert_nonnull (chunk);
  g_assert_cmpuint (hearth_chunk_get_kind (chunk), ==, hearth_subscription_get_kind (sub));
  hearth_subscription_free (sub);
  return chunk;
}

static guint
count_audit (Fixture *f, const char *kind)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows = hearth_store_audit_list (f->store, 0, &error);
  guint n = 0;

  g_assert_no_error (error);
  for (guint i = 0; i < rows->len; i++)
    n += g_str_equal (((HearthAuditRow *) rows->pdata[i])->kind, kind);
  return n;
}

/* Whether the exit lets bytes of (@data_camera, @data_kind, @data_generation)
 * out on a request for @camera's stream @kind in @generation (a refusal is
 * a critical, expected here). */
static gboolean
egress (Fixture *f, const char *camera, HearthStreamKind kind, guint64 generation,
        const char *data_camera, HearthStreamKind data_kind, guint64 data_generation)
{
  gboolean allowed;

  if (!g_str_equal (camera, data_camera) || kind != data_kind ||
      generation != data_generation)
    g_test_expect_message ("hearth-http-request", G_LOG_LEVEL_CRITICAL,
                           "Egress mismatch*");
  allowed = hearth_http_check_egress (f->access, NULL, 1, 2, camera, kind, generation,
                                      data_camera, data_kind, data_generation, "stream");
  g_test_assert_expected_messages ();
  return allowed;
}

/* As egress(), for @chunk's own identity. */
static gboolean
egress_chunk (Fixture *f, const char *camera, HearthStreamKind kind, guint64 generation,
              HearthChunk *chunk)
{
  return egress (f, camera, kind, generation, hearth_chunk_get_camera_id (chunk),
                 hearth_chunk_get_kind (chunk), hearth_chunk_get_generation (chunk));
}

/*
 * A camera's main and sub streams are two generation lines of one camera.
 * Their numbers come from one clock and rarely meet, but nothing forbids
 * it: only the stream tells their chunks apart, and the exit must. A sub
 * chunk never leaves on a main request, nor a main one on a sub request,
 * even with the same camera and generation; each refusal is audited.
 */
static void
test_egress_streams (Fixture *f, gconstpointer data)
{
  g_autoptr (HearthStream) main_stream = hearth_stream_new (CAMERA, 1 << 20);
  g_autoptr (HearthStream) sub_stream =
    hearth_stream_new_kind (CAMERA, HEARTH_STREAM_SUB, 1 << 20);
  g_autoptr (HearthChunk) main_chunk = first_chunk (main_stream);
  g_autoptr (HearthChunk) sub_chunk = first_chunk (sub_stream);
  guint64 main_gen = hearth_chunk_get_generation (main_chunk);
  guint64 sub_gen = hearth_chunk_get_generation (sub_chunk);
  const HearthStreamKind MAIN = HEARTH_STREAM_MAIN, SUB = HEARTH_STREAM_SUB;

  /* Each chunk says which stream it is of. */
  g_assert_cmpuint (hearth_stream_get_kind (main_stream), ==, MAIN);
  g_assert_cmpuint (hearth_stream_get_kind (sub_stream), ==, SUB);
  g_assert_cmpuint (hearth_chunk_get_kind (main_chunk), ==, MAIN);
  g_assert_cmpuint (hearth_chunk_get_kind (sub_chunk), ==, SUB);
  g_assert_cmpstr (hearth_chunk_get_camera_id (sub_chunk), ==, CAMERA);

  g_assert_true (egress_chunk (f, CAMERA, MAIN, main_gen, main_chunk));
  g_assert_true (egress_chunk (f, CAMERA, SUB, sub_gen, sub_chunk));
  g_assert_cmpuint (count_audit (f, "egress-mismatch"), ==, 0);

  /* The very case: the same camera and generation, the other stream. */
  g_assert_false (egress (f, CAMERA, MAIN, 7, CAMERA, SUB, 7));
  g_assert_false (egress (f, CAMERA, SUB, 7, CAMERA, MAIN, 7));
  g_assert_true (egress (f, CAMERA, SUB, 7, CAMERA, SUB, 7));
  g_assert_cmpuint (count_audit (f, "egress-mismatch"), ==, 2);
  /* The chunks of each stream on a request for the other. */
  g_assert_false (egress_chunk (f, CAMERA, MAIN, sub_gen, sub_chunk));
  g_assert_false (egress_chunk (f, CAMERA, SUB, main_gen, main_chunk));
  /* And, as before, another camera's or another generation's. */
  g_assert_false (egress (f, CAMERA, MAIN, 7, CAMERA_OTHER, MAIN, 7));
  g_assert_false (egress_chunk (f, CAMERA, MAIN, main_gen + 1, main_chunk));
  g_assert_cmpuint (count_audit (f, "egress-mismatch"), ==, 6);
}

/* ?stream= names a stream as the routes read it. */
static void
test_stream_names (void)
{
  HearthStreamKind kind = HEARTH_STREAM_MAIN;

  g_assert_true (hearth_stream_kind_from_string ("sub", &kind));
  g_assert_cmpuint (kind, ==, HEARTH_STREAM_SUB);
  g_assert_true (hearth_stream_kind_from_string ("main", &kind));
  g_assert_cmpuint (kind, ==, HEARTH_STREAM_MAIN);
  for (guint i = 0; i < 5; i++) {
    const char *bad[] = { "", "SUB", "sub ", "1", NULL };

    g_assert_false (hearth_stream_kind_from_string (bad[i], &kind));
    g_assert_cmpuint (kind, ==, HEARTH_STREAM_MAIN);
  }
  g_assert_cmpstr (hearth_stream_kind_to_string (HEARTH_STREAM_SUB), ==, "sub");
  g_assert_cmpstr (hearth_stream_kind_to_string (HEARTH_STREAM_MAIN), ==, "main");
}

#define add(path, func) \
  g_test_add ((path), Fixture, NULL, setup, (func), teardown)

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  add ("/hearth/http-routes/every-route", test_every_route);
  add ("/hearth/http-routes/hostile-paths", test_hostile_paths);
  add ("/hearth/http-routes/methods", test_methods);
  add ("/hearth/http-routes/egress-streams", test_egress_streams);
  g_test_add_func ("/hearth/http-routes/stream-names", test_stream_names);
  g_test_add_func ("/hearth/http-routes/table", test_table);
  return g_test_run ();
}
