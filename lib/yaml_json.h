/* YAML text as JSON values, for files people write in YAML (Kubernetes manifests). */
#pragma once
#include <stddef.h>
#include <jansson.h>

/* Every document of a YAML stream (documents separated by ---) into *docs, a JSON array;
 * empty documents are skipped. On error, -EINVAL with "line L, column C: what" in err. */
int yaml_documents(const char *text, json_t **docs, char *err, size_t errlen);
