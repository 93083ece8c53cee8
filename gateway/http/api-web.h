/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "http-routes.h"

G_BEGIN_DECLS

/* What the route answers (http-routes.h). */
#define HEARTH_API_WEB_PATTERN "/"
#define HEARTH_API_WEB_FILES_PATTERN "/app/*"

/* The viewer: "/" and its files, "/app/NAME". */
void hearth_api_web_register (HearthHttpRoutes *routes);

G_END_DECLS
