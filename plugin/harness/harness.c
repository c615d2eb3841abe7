/*
 * harness: drives a Fluent Bit Go output plugin (out_loam.so) the way
 * Fluent Bit's Go proxy does, without Fluent Bit. README.md in this
 * directory lists the facts about Fluent Bit this program reproduces and
 * the command protocol.
 *
 * Build: gcc -O2 -Wall -pthread -o harness harness.c -ldl
 *
 * Commands come on stdin, one per line; every command answers exactly one
 * line on stdout ("error <why>" when it could not be carried out). Anything
 * the plugin itself writes to stdout or stderr goes to stderr, so stdout
 * carries only answers.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Fluent Bit's constants (flb_plugin_proxy.h, flb_output.h). */
#define FLB_ERROR 0
#define FLB_OK 1
#define FLB_RETRY 2
#define PROXY_OUTPUT_PLUGIN 2
#define PROXY_GOLANG 11

/*
 * The registration record Fluent Bit allocates zeroed and passes to
 * FLBPluginRegister (struct flb_plugin_proxy_def). fluent-bit-go knows only
 * the first five fields; the last two stay zero (event_type 0 = logs).
 */
struct proxy_def {
    int type;
    int proxy;
    int flags;
    char *name;
    char *description;
    int event_type;
    void *config_map;
};

/*
 * The API table (struct flb_api) in Fluent Bit's field order. A Go output
 * reads only output_get_property; the others would be Fluent Bit internals,
 * so here they abort loudly if a plugin ever calls them.
 */
struct api {
    const char *(*output_get_property)(const char *, void *);
    const char *(*input_get_property)(const char *, void *);
    void *(*output_get_cmt_instance)(void *);
    void *(*input_get_cmt_instance)(void *);
    void (*log_print)(int, const char *, int, const char *, ...);
    int (*input_log_check)(void *, int);
    int (*output_log_check)(void *, int);
    const char *(*custom_get_property)(const char *, void *);
    int (*custom_log_check)(void *, int);
};

/* Per output instance (struct flb_plugin_proxy_context). The plugin stores
 * its own pointer in remote_context during FLBPluginInit. */
struct proxy_context {
    void *remote_context;
    void *proxy;
};

/*
 * The Go proxy's record of the loaded plugin (struct flbgo_output_plugin in
 * src/proxy/go/go.h): one per shared object, its api/o_ins/context fields
 * overwritten before each instance's FLBPluginInit.
 */
struct go_output_plugin {
    char *name;
    void *api;
    void *o_ins;
    struct proxy_context *context;

    int (*cb_init)(struct go_output_plugin *);
    int (*cb_flush)(const void *, size_t, const char *);
    int (*cb_flush_ctx)(void *, const void *, size_t, char *);
    int (*cb_exit)(void);
    int (*cb_exit_ctx)(void *);
};

/* One config key of an [OUTPUT] section; val is NULL for an empty value,
 * as Fluent Bit stores it. */
struct prop {
    char *key;
    char *val;
};

enum { INST_FAILED, INST_LIVE, INST_EXITED };

/* Stands in for struct flb_output_instance: the plugin only ever gets it
 * back through output_get_property. */
struct instance {
    int state;
    struct prop *props;
    size_t nprops;
    struct proxy_context *ctx;
};

static FILE *answers;          /* the real stdout */
static void *dso;              /* dlopen handle */
static struct proxy_def *def;  /* registration record */
static struct go_output_plugin plugin;
static struct api api;
static struct instance **insts;
static size_t ninsts;

static void answer(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(answers, fmt, ap);
    va_end(ap);
    fputc('\n', answers);
    fflush(answers);
}

/* symbol resolves name the way flb_plugin_proxy_symbol does: NULL when
 * dlsym reports an error. */
static void *symbol(const char *name)
{
    void *s;

    dlerror();
    s = dlsym(dso, name);
    if (dlerror() != NULL) {
        return NULL;
    }
    return s;
}

/*
 * get_property is the harness's output_get_property: the value of the
 * first key equal to key ignoring case (flb_kv_get_key_value), or NULL.
 */
static const char *get_property(const char *key, void *o_ins)
{
    struct instance *in = o_ins;
    size_t i, len;

    if (key == NULL || (len = strlen(key)) == 0) {
        return NULL;
    }
    for (i = 0; i < in->nprops; i++) {
        if (strlen(in->props[i].key) == len &&
            strncasecmp(in->props[i].key, key, len) == 0) {
            return in->props[i].val;
        }
    }
    return NULL;
}

static void unexpected(const char *what)
{
    fprintf(stderr, "harness: the plugin called %s, which a Go output never needs\n", what);
    abort();
}
static const char *bad_input_get_property(const char *k, void *i) { unexpected("input_get_property"); return NULL; }
static void *bad_output_get_cmt(void *i) { unexpected("output_get_cmt_instance"); return NULL; }
static void *bad_input_get_cmt(void *i) { unexpected("input_get_cmt_instance"); return NULL; }
static void bad_log_print(int l, const char *f, int n, const char *fmt, ...) { unexpected("log_print"); }
static int bad_input_log_check(void *i, int l) { unexpected("input_log_check"); return 0; }
static int bad_output_log_check(void *i, int l) { unexpected("output_log_check"); return 0; }
static const char *bad_custom_get_property(const char *k, void *i) { unexpected("custom_get_property"); return NULL; }
static int bad_custom_log_check(void *i, int l) { unexpected("custom_log_check"); return 0; }

/*
 * consumed reports whether Fluent Bit keeps key for itself
 * (flb_output_set_property): the plugin never sees these.
 */
static int consumed(const char *key)
{
    static const char *own[] = {
        "match", "match_regex", "alias", "log_level", "log_suppress_interval",
        "host", "port", "ipv6", "retry_limit", "storage.total_limit_size",
        "workers", "tls", "tls.verify", "tls.verify_hostname", "tls.debug",
        "tls.vhost", "tls.ca_path", "tls.ca_file", "tls.crt_file",
        "tls.key_file", "tls.key_passwd", "tls.min_version", "tls.max_version",
        "tls.ciphers", "tls.proxy.verify", "tls.proxy.verify_hostname",
        "tls.proxy.ca_path", "tls.proxy.ca_file", NULL,
    };
    int i;

    for (i = 0; own[i] != NULL; i++) {
        if (strcasecmp(key, own[i]) == 0) {
            return 1;
        }
    }
    return strncasecmp(key, "net.", 4) == 0 || strncasecmp(key, "oauth2", 6) == 0;
}

/* ---- load / unload ---------------------------------------------------- */

/* load_failed answers why a load failed and forgets the library. */
static void load_failed(const char *why)
{
    answer("error %s", why);
    free(def);
    def = NULL;
    memset(&plugin, 0, sizeof(plugin));
    dlclose(dso);
    dso = NULL;
}

static void cmd_load(const char *path)
{
    int (*pre_register)(int);
    int (*do_register)(struct proxy_def *);

    if (dso != NULL) {
        answer("error a plugin is already loaded");
        return;
    }
    dso = dlopen(path, RTLD_LAZY);
    if (dso == NULL) {
        answer("error dlopen %s: %s", path, dlerror());
        return;
    }
    def = calloc(1, sizeof(*def));
    def->type = 0; /* flb_plugin_load_router passes 0 */

    pre_register = (int (*)(int)) symbol("FLBPluginPreRegister");
    if (pre_register != NULL && pre_register(0) == -1) {
        load_failed("FLBPluginPreRegister returned -1");
        return;
    }
    do_register = (int (*)(struct proxy_def *)) symbol("FLBPluginRegister");
    if (do_register == NULL) {
        load_failed("no FLBPluginRegister symbol");
        return;
    }
    if (do_register(def) == -1) {
        load_failed("FLBPluginRegister returned -1");
        return;
    }
    if (def->proxy != PROXY_GOLANG || def->type != PROXY_OUTPUT_PLUGIN) {
        load_failed("registered as something else than a Go output plugin");
        return;
    }

    /* proxy_go_output_register */
    plugin.cb_init = (int (*)(struct go_output_plugin *)) symbol("FLBPluginInit");
    if (plugin.cb_init == NULL) {
        load_failed("could not load FLBPluginInit symbol");
        return;
    }
    plugin.cb_flush = (int (*)(const void *, size_t, const char *)) symbol("FLBPluginFlush");
    plugin.cb_flush_ctx = (int (*)(void *, const void *, size_t, char *)) symbol("FLBPluginFlushCtx");
    plugin.cb_exit = (int (*)(void)) symbol("FLBPluginExit");
    plugin.cb_exit_ctx = (int (*)(void *)) symbol("FLBPluginExitCtx");
    plugin.name = strdup(def->name ? def->name : "");

    api.output_get_property = get_property;
    api.input_get_property = bad_input_get_property;
    api.output_get_cmt_instance = bad_output_get_cmt;
    api.input_get_cmt_instance = bad_input_get_cmt;
    api.log_print = bad_log_print;
    api.input_log_check = bad_input_log_check;
    api.output_log_check = bad_output_log_check;
    api.custom_get_property = bad_custom_get_property;
    api.custom_log_check = bad_custom_log_check;

    answer("ok %s", plugin.name);
}

/* cmd_unload is flb_proxy_output_cb_destroy: FLBPluginUnregister, then the
 * library is closed. */
static void cmd_unload(void)
{
    void (*unregister)(struct proxy_def *);

    if (dso == NULL) {
        answer("error nothing loaded");
        return;
    }
    unregister = (void (*)(struct proxy_def *)) symbol("FLBPluginUnregister");
    if (unregister != NULL) {
        unregister(def);
    }
    free(plugin.name);
    memset(&plugin, 0, sizeof(plugin));
    free(def);
    def = NULL;
    dlclose(dso);
    dso = NULL;
    answer("ok");
}

/* ---- init ------------------------------------------------------------- */

static char *trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t') {
        s++;
    }
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r')) {
        *--e = '\0';
    }
    return s;
}

/*
 * cmd_init reads "Key Value" lines (the classic config syntax) up to a line
 * "end", then initialises one instance as flb_proxy_output_cb_init and
 * proxy_go_output_init do. Answer: "<instance> <FLBPluginInit's return>".
 */
static void cmd_init(FILE *in)
{
    struct instance *inst;
    char *line = NULL, *k, *v;
    size_t cap = 0;
    int ret, id, (*pre_run)(int);

    inst = calloc(1, sizeof(*inst));
    while (getline(&line, &cap, in) > 0) {
        k = trim(line);
        if (strcmp(k, "end") == 0) {
            break;
        }
        if (*k == '\0' || *k == '#') {
            continue;
        }
        v = k + strcspn(k, " \t");
        if (*v != '\0') {
            *v++ = '\0';
        }
        v = trim(v);
        if (consumed(k)) {
            continue;
        }
        inst->props = realloc(inst->props, (inst->nprops + 1) * sizeof(struct prop));
        inst->props[inst->nprops].key = strdup(k);
        inst->props[inst->nprops].val = *v ? strdup(v) : NULL;
        inst->nprops++;
    }
    free(line);

    insts = realloc(insts, (ninsts + 1) * sizeof(*insts));
    id = (int) ninsts;
    insts[ninsts++] = inst;
    if (dso == NULL) {
        inst->state = INST_FAILED;
        answer("error nothing loaded");
        return;
    }

    /* flb_output_new gives every proxy instance a zeroed context */
    inst->ctx = calloc(1, sizeof(struct proxy_context));
    inst->ctx->proxy = def;

    plugin.api = &api;
    plugin.o_ins = inst;
    plugin.context = inst->ctx;
    ret = plugin.cb_init(&plugin);
    if (ret <= 0) {
        fprintf(stderr, "[go proxy]: plugin '%s' failed to initialize\n", plugin.name);
        inst->state = INST_FAILED;
        answer("%d %d", id, ret);
        return;
    }
    inst->state = INST_LIVE;
    pre_run = (int (*)(int)) symbol("FLBPluginOutputPreRun");
    if (pre_run != NULL) {
        pre_run(0);
    }
    answer("%d %d", id, ret);
}

/* ---- flush ------------------------------------------------------------ */

static struct instance *live(const char *arg)
{
    char *end;
    long id;

    id = strtol(arg, &end, 10);
    if (*arg == '\0' || *end != '\0' || id < 0 || (size_t) id >= ninsts) {
        answer("error no instance %s", arg);
        return NULL;
    }
    if (insts[id]->state != INST_LIVE) {
        answer("error instance %s is not initialised", arg);
        return NULL;
    }
    return insts[id];
}

static void *read_file(const char *path, size_t *size)
{
    FILE *f;
    char *buf = NULL;
    size_t cap = 0, n = 0, r;

    f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            buf = realloc(buf, cap);
        }
        r = fread(buf + n, 1, cap - n, f);
        if (r == 0) {
            break;
        }
        n += r;
    }
    fclose(f);
    *size = n;
    return buf;
}

/* One flush as proxy_cb_flush and proxy_go_output_flush make it. */
struct flush_job {
    struct instance *inst;
    const char *tag;
    void *data;
    size_t size;
    int ret;
};

static void *run_flush(void *arg)
{
    struct flush_job *j = arg;
    size_t tag_len = strlen(j->tag);
    char *tag;

    /* the tag is a fresh NUL-terminated copy, freed after the call */
    tag = malloc(tag_len + 1);
    memcpy(tag, j->tag, tag_len + 1);
    if (plugin.cb_flush_ctx != NULL) {
        j->ret = plugin.cb_flush_ctx(j->inst->ctx->remote_context, j->data, j->size, tag);
    }
    else {
        j->ret = plugin.cb_flush(j->data, j->size, tag);
    }
    if (j->ret != FLB_OK && j->ret != FLB_RETRY && j->ret != FLB_ERROR) {
        fprintf(stderr, "harness: flush returned %d, which Fluent Bit takes as FLB_ERROR\n", j->ret);
        j->ret = FLB_ERROR;
    }
    /*
     * Fluent Bit frees the chunk and the tag after the flush returns; they
     * are overwritten first so a plugin that kept a reference sends garbage
     * and a test sees it.
     */
    memset(tag, 0xA5, tag_len + 1);
    free(tag);
    memset(j->data, 0xA5, j->size);
    return NULL;
}

/*
 * cmd_flush: "flush <instance> <tag> <file>..." flushes each file's chunk;
 * with several files they are flushed at the same time on threads of their
 * own, as with `Workers N`. Answer: the returns in file order.
 */
static void cmd_flush(char **argv, int argc)
{
    struct instance *inst;
    struct flush_job *jobs;
    pthread_t *th;
    char buf[1024];
    size_t off = 0;
    int i, n;

    if (argc < 4) {
        answer("error usage: flush <instance> <tag> <file>...");
        return;
    }
    if ((inst = live(argv[1])) == NULL) {
        return;
    }
    if (plugin.cb_flush_ctx == NULL && plugin.cb_flush == NULL) {
        answer("error the plugin has no flush callback");
        return;
    }
    n = argc - 3;
    jobs = calloc(n, sizeof(*jobs));
    th = calloc(n, sizeof(*th));
    for (i = 0; i < n; i++) {
        jobs[i].inst = inst;
        jobs[i].tag = argv[2];
        jobs[i].data = read_file(argv[3 + i], &jobs[i].size);
        if (jobs[i].data == NULL) {
            answer("error read %s: %s", argv[3 + i], strerror(errno));
            goto out;
        }
    }
    if (n == 1) {
        run_flush(&jobs[0]);
    }
    else {
        for (i = 0; i < n; i++) {
            pthread_create(&th[i], NULL, run_flush, &jobs[i]);
        }
        for (i = 0; i < n; i++) {
            pthread_join(th[i], NULL);
        }
    }
    for (i = 0; i < n && off < sizeof(buf) - 16; i++) {
        off += snprintf(buf + off, sizeof(buf) - off, i ? " %d" : "%d", jobs[i].ret);
    }
    answer("%s", buf);
out:
    for (i = 0; i < n; i++) {
        free(jobs[i].data);
    }
    free(jobs);
    free(th);
}

/*
 * cmd_flush_noctx: "flush-noctx <tag> <file>" calls FLBPluginFlush, which
 * Fluent Bit uses only when FLBPluginFlushCtx is missing; it is here to test
 * that fallback, not to imitate Fluent Bit.
 */
static void cmd_flush_noctx(char **argv, int argc)
{
    struct flush_job j = {0};
    int (*saved)(void *, const void *, size_t, char *) = plugin.cb_flush_ctx;
    struct instance none = {0};
    struct proxy_context noctx = {0};

    if (argc != 3) {
        answer("error usage: flush-noctx <tag> <file>");
        return;
    }
    if (plugin.cb_flush == NULL) {
        answer("error no FLBPluginFlush symbol");
        return;
    }
    none.ctx = &noctx;
    j.inst = &none;
    j.tag = argv[1];
    if ((j.data = read_file(argv[2], &j.size)) == NULL) {
        answer("error read %s: %s", argv[2], strerror(errno));
        return;
    }
    plugin.cb_flush_ctx = NULL;
    run_flush(&j);
    plugin.cb_flush_ctx = saved;
    free(j.data);
    answer("%d", j.ret);
}

/* ---- exit ------------------------------------------------------------- */

/* exit_instance is flb_proxy_output_cb_exit and proxy_go_output_destroy. */
static int exit_instance(struct instance *inst)
{
    void (*pre_exit)(int);
    int ret = 0;

    pre_exit = (void (*)(int)) symbol("FLBPluginOutputPreExit");
    if (pre_exit != NULL) {
        pre_exit(0);
    }
    if (plugin.cb_exit_ctx != NULL) {
        ret = plugin.cb_exit_ctx(inst->ctx->remote_context);
    }
    else if (plugin.cb_exit != NULL) {
        ret = plugin.cb_exit();
    }
    free(inst->ctx);
    inst->ctx = NULL;
    inst->state = INST_EXITED;
    return ret;
}

static void cmd_exit(const char *arg)
{
    struct instance *inst;

    if ((inst = live(arg)) != NULL) {
        answer("%d", exit_instance(inst));
    }
}

/* ---- main ------------------------------------------------------------- */

int main(int argc, char **argv)
{
    char *line = NULL, *tok[64], *p;
    size_t cap = 0, i;
    int n, fd;

    /* answers go to the real stdout; the plugin's prints go to stderr */
    fd = dup(1);
    if (fd < 0 || (answers = fdopen(fd, "w")) == NULL || dup2(2, 1) < 0) {
        perror("harness: stdout");
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    while (getline(&line, &cap, stdin) > 0) {
        n = 0;
        for (p = strtok(line, " \t\r\n"); p != NULL && n < 64; p = strtok(NULL, " \t\r\n")) {
            tok[n++] = p;
        }
        if (n == 0 || tok[0][0] == '#') {
            continue;
        }
        if (strcmp(tok[0], "load") == 0 && n == 2) {
            cmd_load(tok[1]);
        }
        else if (strcmp(tok[0], "init") == 0 && n == 1) {
            cmd_init(stdin);
        }
        else if (strcmp(tok[0], "flush") == 0) {
            cmd_flush(tok, n);
        }
        else if (strcmp(tok[0], "flush-noctx") == 0) {
            cmd_flush_noctx(tok, n);
        }
        else if (strcmp(tok[0], "exit") == 0 && n == 2) {
            cmd_exit(tok[1]);
        }
        else if (strcmp(tok[0], "unload") == 0 && n == 1) {
            cmd_unload();
        }
        else {
            answer("error unknown command or wrong arguments: %s", tok[0]);
        }
    }
    free(line);

    /* end of input: shut down as Fluent Bit does, live instances first */
    if (dso != NULL) {
        for (i = 0; i < ninsts; i++) {
            if (insts[i]->state == INST_LIVE) {
                exit_instance(insts[i]);
            }
        }
    }
    return 0;
}
