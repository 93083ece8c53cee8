/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The stream port's routing, without a socket: the table HearthHttpServer
 * builds as each route registers itself (api-*.c), asked what a path is
 * routed to and with which captures; hostile paths (climbing, encoded or
 * doubled slashes, empty segments, overlong ids) reach no route or reach one
 * with a capture that names no camera; each route's methods. The routes'
 * answers themselves are tried end to end (tests/e2e/access.sh).
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

#define add(path, func) \
  g_test_add ((path), Fixture, NULL, setup, (func), teardown)

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  add ("/hearth/http-routes/every-route", test_every_route);
  add ("/hearth/http-routes/hostile-paths", test_hostile_paths);
  add ("/hearth/http-routes/methods", test_methods);
  g_test_add_func ("/hearth/http-routes/table", test_table);
  return g_test_run ();
}
