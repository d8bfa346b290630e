/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* test_config.c - schema-checked INI configuration: values, defaults and every error path. */
#include "egide/base/egide_config.h"
#include "egide/base/egide_util.h"
#include "egide_test.h"

#include <unistd.h>

static const char *const s_levels[] = {"error", "warning", "info", NULL};
static const egide_config_key_t s_schema[] = {
    {"node", "id", EGIDE_CFG_NODE_ID, true, 0, 0, NULL, NULL, "node id"},
    {"node", "endpoint", EGIDE_CFG_ENDPOINT, false, 0, 0, "tcp://127.0.0.1:7710", NULL, "endpoint"},
    {"node", "port", EGIDE_CFG_INT, false, 1, 65535, "7720", NULL, "port"},
    {"node", "syslog", EGIDE_CFG_BOOL, false, 0, 0, "false", NULL, "syslog"},
    {"log", "level", EGIDE_CFG_ENUM, false, 0, 0, "info", s_levels, "level"},
    {"paths", "key", EGIDE_CFG_PATH, false, 0, 0, NULL, NULL, "key file"},
    EGIDE_CONFIG_END,
};

static egide_rc s_load(const char *text, char *err, size_t errsz, egide_config_t **c)
{
    return egide_config_load_string("t.ini", text, s_schema, c, err, errsz);
}

static void test_good(void)
{
    char err[512];
    egide_config_t *c = NULL;
    CHECK_RC(s_load("; comment\n[node]\nid = 71.crip\nport = 9000\nsyslog = yes\n\n[paths]\nkey = "
                    "keys/sign.key\n",
                    err, sizeof err, &c),
             EGIDE_OK);
    REQUIRE(c != NULL);
    CHECK_STREQ(egide_config_str(c, "node", "id"), "71.crip");
    CHECK(egide_config_int(c, "node", "port") == 9000);
    CHECK(egide_config_bool(c, "node", "syslog"));
    CHECK_STREQ(egide_config_str(c, "node", "endpoint"), "tcp://127.0.0.1:7710"); /* default */
    CHECK(!egide_config_has(c, "node", "endpoint"));
    CHECK(egide_config_has(c, "node", "id"));
    CHECK_STREQ(egide_config_str(c, "log", "level"), "info");
    CHECK(egide_config_str(c, "node", "nope") == NULL);
    char *p = egide_config_path(c, "paths", "key");
    CHECK_STREQ(p, "./keys/sign.key");
    free(p);
    egide_config_destroy(&c);
    CHECK(c == NULL);
    egide_config_destroy(&c); /* idempotent */
}

static void expect_err(const char *text, const char *want)
{
    char err[512] = "";
    egide_config_t *c = NULL;
    CHECK_RC(s_load(text, err, sizeof err, &c), EGIDE_ERR_CONFIG);
    CHECK(c == NULL);
    if (!strstr(err, want)) {
        fprintf(stderr, "  got \"%s\", wanted \"%s\"\n", err, want);
        CHECK(0);
    } else {
        CHECK(1);
    }
}

static void test_errors(void)
{
    expect_err("[node]\nid = 71.crip\ncolour = blue\n",
               "t.ini:3: unknown key 'colour' in section [node]");
    expect_err("[node]\nid = 71.crip\n[nodes]\nx = 1\n", "t.ini:4: unknown section [nodes]");
    expect_err("id = 71.crip\n", "t.ini:1: key outside any [section]");
    expect_err("[node]\nid = 71.crip\nport = 70000\n",
               "t.ini:3: bad value for 'port': not an integer in 1..65535");
    expect_err("[node]\nid = 71.crip\nport = 12abc\n", "t.ini:3: bad value for 'port'");
    expect_err("[node]\nid = 71.crip\nsyslog = maybe\n",
               "t.ini:3: bad value for 'syslog': not a boolean");
    expect_err("[node]\nid = 71.CRIP\n", "t.ini:2: bad value for 'id': not a node id");
    expect_err("[node]\nid = 71.crip\nendpoint = http://x\n", "t.ini:3: bad value for 'endpoint'");
    expect_err("[node]\nid = 71.crip\n[log]\nlevel = loud\n",
               "t.ini:4: bad value for 'level': not one of: error warning info");
    expect_err("[node]\nid = 71.crip\nid = 71.tas\n",
               "t.ini:3: duplicate key 'id' (first set on line 2)");
    expect_err("[node]\nport = 80\n", "t.ini: missing required key 'id' in section [node]");
    expect_err("[node]\nid = 71.crip\nthis is not ini\n", "t.ini:3: syntax error");
    expect_err("[node\nid = 71.crip\n", "t.ini:1: syntax error");
    char longline[400];
    memset(longline, 'x', sizeof longline);
    memcpy(longline, "[node]\nid = 71.crip\nk = ", 24);
    longline[sizeof longline - 2] = '\n';
    longline[sizeof longline - 1] = '\0';
    expect_err(longline, "t.ini:3: line too long");
    /* Read by egide_ini: a key repeated in a repeated section, the known keys
     * named, an indented line that inih would glue to the key above. */
    expect_err("[node]\nid = 71.crip\n[log]\nlevel = info\n[node]\nid = 71.tas\n",
               "t.ini:6: duplicate key 'id' (first set on line 2)");
    expect_err("[log]\nlevle = info\n",
               "t.ini:2: unknown key 'levle' in section [log] (known: level)");
    expect_err("[node]\nid = 71.crip\n  port = 80\n", "t.ini:3: indented line");
    expect_err("[node]\nid = 71.crip\n[log]\nlevel = info\nlevel = error\n",
               "t.ini:5: duplicate key 'level' (first set on line 4)");
}

static void test_file(void)
{
    char err[512];
    egide_config_t *c = NULL;
    CHECK_RC(egide_config_load("/nonexistent/egide.ini", s_schema, &c, err, sizeof err),
             EGIDE_ERR_NOTFOUND);
    CHECK(strstr(err, "/nonexistent/egide.ini: cannot read configuration") != NULL);
    char path[] = "/tmp/egide-test-config-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    CHECK(write(fd, "[node]\nid = 71.crip\0\n", 21) == 21);
    close(fd);
    CHECK_RC(egide_config_load(path, s_schema, &c, err, sizeof err), EGIDE_ERR_CONFIG);
    CHECK(strstr(err, "binary data") != NULL);
    unlink(path);
}

int main(void)
{
    RUN(test_good);
    RUN(test_errors);
    RUN(test_file);
    EGIDE_TEST_DONE();
}
