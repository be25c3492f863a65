/*
 * capi_test.c — drives a complete orchestration through duroxide.h alone:
 * a host orchestration "Hello" that schedules the host activity "Greet",
 * served by this program's own poll loop, plus the ABI's error paths.
 *
 * Built and run by `make test-capi`:
 *   gcc -Ibuild capi/testdata/capi_test.c -Lbuild -lduroxide -o build/capi_test
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "duroxide.h"

static int passed, failed;

#define CHECK(cond, ...)                                   \
	do {                                                   \
		if (cond) {                                        \
			passed++;                                      \
		} else {                                           \
			failed++;                                      \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                  \
			fprintf(stderr, "\n");                         \
		}                                                  \
	} while (0)

static void fatal(const char* what, int rc, char* err) {
	fprintf(stderr, "FATAL %s: status %d: %s\n", what, rc, err ? err : "(no message)");
	dx_free(err);
	exit(1);
}

/* Returns the unsigned integer after "key": in s, or 0. */
static unsigned long long json_uint(const char* s, const char* key) {
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\":", key);
	const char* p = strstr(s, pat);
	if (!p) return 0;
	return strtoull(p + strlen(pat), NULL, 10);
}

/* Copies the string value after "key":" in s (no escapes expected) into
 * out; returns 0 when missing. */
static int json_str(const char* s, const char* key, char* out, size_t n) {
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\":\"", key);
	const char* p = strstr(s, pat);
	if (!p) return 0;
	p += strlen(pat);
	size_t i = 0;
	while (*p && *p != '"' && i + 1 < n) out[i++] = *p++;
	out[i] = 0;
	return 1;
}

static char* client_call(uint64_t client, const char* req) {
	char* out = NULL;
	size_t len = 0;
	char* err = NULL;
	int rc = dx_client_call(client, req, strlen(req), &out, &len, &err);
	if (rc != DX_OK) fatal(req, rc, err);
	return out;
}

/* Answers one activation of the Hello orchestration. */
static void on_activation(uint64_t rt, const char* item) {
	unsigned long long driver = json_uint(item, "driver_id");
	const char* jobs = strstr(item, "\"jobs\"");
	char input[256] = "", result[256] = "", cmds[1024] = "";
	int has_start = jobs && strstr(jobs, "\"kind\":\"start\"") != NULL;
	const char* act = jobs ? strstr(jobs, "\"kind\":\"activity\"") : NULL;
	if (has_start) json_str(jobs, "input", input, sizeof input);
	if (act) json_str(act, "result", result, sizeof result);
	strcat(cmds, "{\"protocol\":1,\"commands\":[");
	if (has_start) {
		char c[400];
		snprintf(c, sizeof c, "{\"kind\":\"schedule_activity\",\"seq\":1,\"name\":\"Greet\",\"input\":\"%s\"}", input);
		strcat(cmds, c);
	}
	if (act) {
		char c[400];
		snprintf(c, sizeof c, "%s{\"kind\":\"complete\",\"output\":\"%s\"}", has_start ? "," : "", result);
		strcat(cmds, c);
	}
	strcat(cmds, "]}");
	char* err = NULL;
	int rc = dx_complete_activation(rt, driver, cmds, strlen(cmds), &err);
	CHECK(rc == DX_OK, "complete activation: %d %s", rc, err ? err : "");
	dx_free(err);
}

/* Runs one activity task of Greet. */
static void on_activity(uint64_t rt, const char* item) {
	unsigned long long task = json_uint(item, "task_id");
	char input[256] = "", out[300];
	json_str(item, "input", input, sizeof input);
	snprintf(out, sizeof out, "Hello, %s!", input);
	char* err = NULL;
	int rc = dx_complete_activity(rt, task, 1, out, strlen(out), &err);
	CHECK(rc == DX_OK, "complete activity: %d %s", rc, err ? err : "");
	dx_free(err);
}

int main(void) {
	char* err = NULL;
	int rc;

	CHECK(dx_abi_version() == DX_ABI_VERSION, "abi version %d, header %d", dx_abi_version(), DX_ABI_VERSION);

	/* Error paths: a bad handle is named, never a crash. */
	rc = dx_runtime_start(424242, &err);
	CHECK(rc == DX_ERR_HANDLE && err && strstr(err, "424242"), "bad handle: %d %s", rc, err ? err : "");
	dx_free(err);
	err = NULL;
	rc = dx_store_open("sqlite::memory:", "{not json", &(uint64_t){0}, &err);
	CHECK(rc == DX_ERR_INVALID, "bad options: %d %s", rc, err ? err : "");
	dx_free(err);
	err = NULL;

	uint64_t store = 0, rt = 0, client = 0;
	if ((rc = dx_store_open("sqlite::memory:", NULL, &store, &err)) != DX_OK) fatal("store open", rc, err);
	if ((rc = dx_runtime_new(store, "{\"instance_cache_size\":100}", &rt, &err)) != DX_OK) fatal("runtime new", rc, err);
	if ((rc = dx_runtime_register_orchestration(rt, "Hello", NULL, &err)) != DX_OK) fatal("register orchestration", rc, err);
	if ((rc = dx_runtime_register_activity(rt, "Greet", &err)) != DX_OK) fatal("register activity", rc, err);
	rc = dx_runtime_register_activity(rt, "Greet", &err);
	CHECK(rc == DX_ERR_EXISTS, "duplicate activity: %d", rc);
	dx_free(err);
	err = NULL;
	rc = dx_poll(store, 1, 0, &(char*){NULL}, &(size_t){0}, &err);
	CHECK(rc == DX_ERR_HANDLE, "poll on a store handle: %d", rc);
	dx_free(err);
	err = NULL;
	if ((rc = dx_runtime_start(rt, &err)) != DX_OK) fatal("runtime start", rc, err);
	if ((rc = dx_client_new(store, &client, &err)) != DX_OK) fatal("client new", rc, err);

	rc = dx_store_close(store, &err);
	CHECK(rc == DX_ERR && err && strstr(err, "still used"), "close a store in use: %d %s", rc, err ? err : "");
	dx_free(err);
	err = NULL;

	dx_free(client_call(client, "{\"protocol\":1,\"op\":\"start_orchestration\",\"instance\":\"c-1\",\"name\":\"Hello\",\"input\":\"World\"}"));

	int activations = 0, activities = 0, completed = 0;
	time_t deadline = time(NULL) + 30;
	while (!completed && time(NULL) < deadline) {
		char* out = NULL;
		size_t len = 0;
		rc = dx_poll(rt, 1, 200, &out, &len, &err);
		if (rc != DX_OK) fatal("poll", rc, err);
		if (out) {
			if (strstr(out, "\"type\":\"activation\"")) {
				activations++;
				on_activation(rt, out);
			} else if (strstr(out, "\"type\":\"activity\"")) {
				activities++;
				on_activity(rt, out);
			}
			dx_free(out);
		}
		char* st = client_call(client, "{\"protocol\":1,\"op\":\"get_status\",\"instance\":\"c-1\"}");
		if (strstr(st, "\"status\":\"Completed\"")) {
			completed = 1;
			CHECK(strstr(st, "\"output\":\"Hello, World!\"") != NULL, "output: %s", st);
		} else if (strstr(st, "\"status\":\"Failed\"")) {
			CHECK(0, "orchestration failed: %s", st);
			completed = 1;
		}
		dx_free(st);
	}
	CHECK(completed, "the orchestration did not complete within 30 s");
	CHECK(activations == 2, "%d activations, want 2 (one per turn)", activations);
	CHECK(activities == 1, "%d activity tasks, want 1", activities);

	/* An asynchronous client call completes through dx_poll(client). */
	uint64_t req = 0;
	const char* async_req = "{\"protocol\":1,\"op\":\"wait_for_orchestration\",\"instance\":\"c-1\",\"timeout_ms\":5000}";
	rc = dx_client_call_async(client, async_req, strlen(async_req), &req, &err);
	CHECK(rc == DX_OK && req != 0, "async call: %d", rc);
	char* res = NULL;
	size_t res_len = 0;
	rc = dx_poll(client, 0, 5000, &res, &res_len, &err);
	CHECK(rc == DX_OK && res && strstr(res, "\"type\":\"client_result\"") && strstr(res, "Hello, World!"),
	      "async result: %d %s", rc, res ? res : "(none)");
	dx_free(res);

	/* A client wait that times out says so with DX_ERR_TIMEOUT. */
	const char* wait_req = "{\"protocol\":1,\"op\":\"wait_for_orchestration\",\"instance\":\"nobody\",\"timeout_ms\":50}";
	rc = dx_client_call(client, wait_req, strlen(wait_req), &res, &res_len, &err);
	CHECK(rc == DX_ERR_TIMEOUT && res == NULL, "wait timeout: %d", rc);
	dx_free(err);
	err = NULL;

	char* metrics = NULL;
	size_t mlen = 0;
	rc = dx_runtime_metrics(rt, &metrics, &mlen, &err);
	CHECK(rc == DX_OK && metrics && json_uint(metrics, "host_activations") == 2, "metrics: %s", metrics ? metrics : "");
	dx_free(metrics);

	if ((rc = dx_runtime_shutdown(rt, 5000, &err)) != DX_OK) fatal("shutdown", rc, err);
	rc = dx_poll(rt, 1, 10, &res, &res_len, &err);
	CHECK(rc == DX_ERR_CLOSED, "poll after shutdown: %d", rc);
	dx_free(err);
	err = NULL;
	if ((rc = dx_runtime_close(rt, &err)) != DX_OK) fatal("runtime close", rc, err);
	rc = dx_runtime_close(rt, &err);
	CHECK(rc == DX_ERR_HANDLE, "second close: %d", rc);
	dx_free(err);
	err = NULL;
	if ((rc = dx_client_close(client, &err)) != DX_OK) fatal("client close", rc, err);
	if ((rc = dx_store_close(store, &err)) != DX_OK) fatal("store close", rc, err);

	printf("capi: %d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
