/*  =========================================================================
    zshm-bridge - carry zshm channels over ZeroMQ TCP

    zshm-bridge SOURCE DEST [options]     one route, source first like cp
    zshm-bridge --config FILE [options]   routes from a ZPL file
    zshm-bridge --keygen NAME             write a CURVE certificate pair

    Each route runs in its own zshm_bridge actor; this file only parses the
    command line and the config file, starts the actors (and zauth when
    clients are checked), prints statistics and waits for SIGINT/SIGTERM.
    =========================================================================
*/

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "zshm_bridge.h"

static const char *s_usage =
"usage: zshm-bridge SOURCE DEST [options]\n"
"       zshm-bridge --config FILE [options]\n"
"       zshm-bridge --keygen NAME\n"
"\n"
"Carry a zshm channel over ZeroMQ, source first like cp:\n"
"  zshm-bridge shm://ticks tcp://*:5556        serve channel 'ticks': plain zmq SUB\n"
"                                              clients connect to port 5556, other\n"
"                                              bridges to the link port 5557\n"
"  zshm-bridge tcp://hosta:5556 shm://ticks    fan hosta's feed into a local ring\n"
"                                              (connects to hosta's link port 5557)\n"
"Runs until SIGINT or SIGTERM, then prints its statistics and exits 0.\n"
"\n"
"Route options (also keys of a 'route' section in the config file):\n"
"  --link ENDPOINT|none   bridge-to-bridge endpoint (default: the tcp port + 1)\n"
"  --plain                feed from a plain ZeroMQ PUB at SOURCE (no metadata,\n"
"                         so no gap detection)\n"
"  --subscribe PREFIX     feed only topics starting with PREFIX (repeatable;\n"
"                         default everything)\n"
"  --sndhwm N             serve: messages queued per peer before drops (10000)\n"
"  --linkhwm N            serve: the same for bridges on the link, in ZeroMQ\n"
"                         messages, which may be batches (default: --sndhwm)\n"
"  --rcvhwm N             feed: messages queued on receipt (10000)\n"
"  --maxmsg BYTES         largest message accepted from the network (16 MiB)\n"
"  --maxframes N          most frames per message (256)\n"
"  --heartbeat MS         ZMTP and link heartbeat interval (1000)\n"
"  --idle spin|yield|backoff|block   serve: how the ring is waited on (block)\n"
"  --maxhops N            drop messages that crossed N bridges (8)\n"
"  --curve-server SECRET_CERT        serve with CURVE (needs --curve-allow)\n"
"  --curve-client SECRET_CERT        feed with CURVE, as this client...\n"
"  --curve-server-key PUBLIC_CERT    ...of the server with this certificate\n"
"\n"
"Process options (keys of the 'bridge' section in the config file):\n"
"  --config FILE          routes from a ZPL file (see README)\n"
"  --curve-allow DIR      public certificates of the clients allowed to\n"
"                         connect ('*' allows any client with the server key)\n"
"  --stats SECONDS        with -v, print statistics this often (10)\n"
"  -v, --verbose          log every event\n"
"  --keygen NAME          write NAME (public) and NAME_secret, then exit\n"
"  -h, --help             this text\n";

//  One route, as parsed.
typedef struct {
    char *source;               //  SOURCE
    char *dest;                 //  DEST
    zlistx_t *options;          //  "name", "value" pairs for SET, in order
    zlistx_t *subscribe;        //  prefixes (strings)
    char *curve_server;         //  secret certificate path, or NULL
    char *curve_client;         //  secret certificate path, or NULL
    char *curve_server_key;     //  server's public certificate path, or NULL
    zactor_t *actor;            //  the running bridge
} route_t;

static route_t *
s_route_new (void)
{
    route_t *self = (route_t *) zmalloc (sizeof (route_t));
    self->options = zlistx_new ();
    zlistx_set_destructor (self->options, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_duplicator (self->options, (zlistx_duplicator_fn *) strdup);
    self->subscribe = zlistx_new ();
    zlistx_set_destructor (self->subscribe, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_duplicator (self->subscribe, (zlistx_duplicator_fn *) strdup);
    return self;
}

static void
s_route_destroy (route_t **self_p)
{
    route_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy (&self->actor);
    zlistx_destroy (&self->options);
    zlistx_destroy (&self->subscribe);
    free (self->source);
    free (self->dest);
    free (self->curve_server);
    free (self->curve_client);
    free (self->curve_server_key);
    free (self);
    *self_p = NULL;
}

//  Process-wide settings.
typedef struct {
    bool verbose;               //  -v
    int stats;                  //  seconds between statistics with -v
    char *curve_allow;          //  allow-list directory, "*", or NULL
    char *config;               //  config file, or NULL
    char *keygen;               //  certificate to write, or NULL
    zlistx_t *routes;           //  route_t
} settings_t;

//  The first error; main prints it as one line and exits 1.
static char *s_error;

static void
s_fail (const char *format, ...)
{
    if (s_error)
        return;
    va_list args;
    va_start (args, format);
    s_error = zsys_vprintf (format, args);
    va_end (args);
}

static void
s_replace (char **field, const char *value)
{
    free (*field);
    *field = strdup (value);
}

//  Options that are plain SET name value for the actor.
static bool
s_is_set_option (const char *name)
{
    static const char *names [] = {
        "link", "sndhwm", "linkhwm", "rcvhwm", "maxmsg", "maxframes", "heartbeat", "idle",
        "maxhops", NULL
    };
    for (int index = 0; names [index]; index++)
        if (streq (name, names [index]))
            return true;
    return false;
}

//  Apply one route option (from the command line or a config file).
//  Returns false if the name is not a route option.
static bool
s_route_option (route_t *route, const char *name, const char *value)
{
    if (s_is_set_option (name)) {
        zlistx_add_end (route->options, (void *) name);
        zlistx_add_end (route->options, (void *) value);
    }
    else
    if (streq (name, "plain")) {
        zlistx_add_end (route->options, "plain");
        zlistx_add_end (route->options, (void *) value);
    }
    else
    if (streq (name, "subscribe"))
        zlistx_add_end (route->subscribe, (void *) value);
    else
    if (streq (name, "curve-server"))
        s_replace (&route->curve_server, value);
    else
    if (streq (name, "curve-client"))
        s_replace (&route->curve_client, value);
    else
    if (streq (name, "curve-server-key"))
        s_replace (&route->curve_server_key, value);
    else
    if (streq (name, "source"))
        s_replace (&route->source, value);
    else
    if (streq (name, "dest"))
        s_replace (&route->dest, value);
    else
        return false;
    return true;
}

static bool
s_process_option (settings_t *settings, const char *name, const char *value)
{
    if (streq (name, "verbose"))
        settings->verbose = !streq (value, "0");
    else
    if (streq (name, "stats")) {
        char *end = NULL;
        long seconds = strtol (value, &end, 10);
        if (*value < '0' || *value > '9' || *end || seconds < 1 || seconds > 86400)
            s_fail ("--stats wants a number of seconds (1..86400), not '%s'", value);
        else
            settings->stats = (int) seconds;
    }
    else
    if (streq (name, "curve-allow"))
        s_replace (&settings->curve_allow, value);
    else
        return false;
    return true;
}

//  Read routes and process settings from a ZPL file:
//      bridge
//          verbose = 1
//          curve-allow = /etc/zshm/clients
//      route
//          source = shm://ticks
//          dest = tcp://*:5556
static void
s_load_config (settings_t *settings, const char *path)
{
    zconfig_t *root = zconfig_load (path);
    if (!root) {
        s_fail ("cannot read config file %s", path);
        return;
    }
    for (zconfig_t *section = zconfig_child (root); section && !s_error;
         section = zconfig_next (section)) {
        const char *kind = zconfig_name (section);
        if (streq (kind, "bridge")) {
            for (zconfig_t *item = zconfig_child (section); item; item = zconfig_next (item))
                if (!s_process_option (settings, zconfig_name (item),
                                       zconfig_value (item) ? zconfig_value (item) : ""))
                    s_fail ("%s: unknown key bridge/%s", path, zconfig_name (item));
        }
        else
        if (streq (kind, "route")) {
            route_t *route = s_route_new ();
            zlistx_add_end (settings->routes, route);
            for (zconfig_t *item = zconfig_child (section); item; item = zconfig_next (item)) {
                const char *value = zconfig_value (item) ? zconfig_value (item) : "";
                if (streq (zconfig_name (item), "plain"))
                    value = streq (value, "0") || streq (value, "") ? "0" : "1";
                if (!s_route_option (route, zconfig_name (item), value))
                    s_fail ("%s: unknown key route/%s", path, zconfig_name (item));
            }
            if (!route->source || !route->dest)
                s_fail ("%s: a route needs a source and a dest", path);
        }
        else
            s_fail ("%s: unknown section '%s' (want bridge or route)", path, kind);
    }
    zconfig_destroy (&root);
}

//  Parse the command line into settings (and the command-line route).
static void
s_parse_args (settings_t *settings, int argc, char **argv, bool *help_p)
{
    route_t *route = s_route_new ();
    const char *positional [2] = { NULL, NULL };
    int positionals = 0;
    for (int arg = 1; arg < argc && !s_error; arg++) {
        const char *word = argv [arg];
        if (streq (word, "-h") || streq (word, "--help")) {
            *help_p = true;
            break;
        }
        if (streq (word, "-v") || streq (word, "--verbose")) {
            settings->verbose = true;
            continue;
        }
        if (streq (word, "--plain")) {
            s_route_option (route, "plain", "1");
            continue;
        }
        if (strncmp (word, "--", 2) != 0 || word [2] == 0) {
            if (positionals == 2)
                s_fail ("too many arguments: '%s' (see --help)", word);
            else
                positional [positionals++] = word;
            continue;
        }
        //  --name VALUE or --name=VALUE
        char *name = strdup (word + 2);
        char *value = strchr (name, '=');
        if (value)
            *value++ = 0;
        else
        if (arg + 1 < argc)
            value = argv [++arg];
        else {
            s_fail ("--%s needs a value (see --help)", name);
            free (name);
            break;
        }
        if (streq (name, "config"))
            s_replace (&settings->config, value);
        else
        if (streq (name, "keygen"))
            s_replace (&settings->keygen, value);
        else
        if (streq (name, "source") || streq (name, "dest")
        ||  (!s_process_option (settings, name, value) && !s_route_option (route, name, value)))
            s_fail ("unknown option --%s (see --help)", name);
        free (name);
    }
    if (s_error || *help_p || settings->keygen) {
        s_route_destroy (&route);
        return;
    }
    if (positionals == 1)
        s_fail ("need both SOURCE and DEST (see --help)");
    else
    if (positionals == 2) {
        route->source = strdup (positional [0]);
        route->dest = strdup (positional [1]);
        zlistx_add_end (settings->routes, route);
        route = NULL;
    }
    else
    if (zlistx_size (route->options) || zlistx_size (route->subscribe) || route->curve_server
    ||  route->curve_client || route->curve_server_key)
        s_fail ("route options need SOURCE and DEST on the command line (or put them in "
                "the config file)");
    s_route_destroy (&route);
    if (!s_error && settings->config)
        s_load_config (settings, settings->config);
    if (!s_error && zlistx_size (settings->routes) == 0)
        s_fail ("nothing to bridge: give SOURCE and DEST or --config FILE (see --help)");
}

static int
s_keygen (const char *name)
{
    zcert_t *cert = zcert_new ();
    if (!cert) {
        fprintf (stderr, "zshm-bridge: cannot make a certificate\n");
        return 1;
    }
    const char *base = strrchr (name, '/');
    zcert_set_meta (cert, "name", "%s", base ? base + 1 : name);
    zcert_set_meta (cert, "created-by", "zshm-bridge");
    int rc = zcert_save (cert, name);
    zcert_destroy (&cert);
    if (rc) {
        fprintf (stderr, "zshm-bridge: cannot write %s and %s_secret: %s\n", name, name,
                 strerror (errno));
        return 1;
    }
    printf ("wrote %s (public: give it to the other side) and %s_secret (keep it private)\n",
            name, name);
    return 0;
}

//  Start one route's actor.  Returns 0, or -1 with s_error set.
static int
s_route_start (settings_t *settings, route_t *route)
{
    if (route->curve_server && !settings->curve_allow) {
        s_fail ("%s -> %s: --curve-server needs --curve-allow DIR (or '*')", route->source,
                route->dest);
        return -1;
    }
    if (!!route->curve_client != !!route->curve_server_key) {
        s_fail ("%s -> %s: --curve-client and --curve-server-key go together", route->source,
                route->dest);
        return -1;
    }
    route->actor = zshm_bridge_new (route->source, route->dest);
    if (!route->actor) {
        s_fail ("bad route '%s' -> '%s'", route->source, route->dest);
        return -1;
    }
    if (settings->verbose)
        zstr_send (route->actor, "VERBOSE");
    const char *name = (const char *) zlistx_first (route->options);
    while (name) {
        const char *value = (const char *) zlistx_next (route->options);
        zshm_bridge_set (route->actor, name, value);
        name = (const char *) zlistx_next (route->options);
    }
    for (const char *prefix = (const char *) zlistx_first (route->subscribe); prefix;
         prefix = (const char *) zlistx_next (route->subscribe))
        zstr_sendx (route->actor, "SUBSCRIBE", prefix, NULL);
    if (route->curve_server)
        zstr_sendx (route->actor, "CURVE-SERVER", route->curve_server, NULL);
    if (route->curve_client)
        zstr_sendx (route->actor, "CURVE-CLIENT", route->curve_client,
                    route->curve_server_key, NULL);
    char reason [512];
    if (zshm_bridge_start (route->actor, reason, sizeof reason)) {
        s_fail ("%s -> %s: %s", route->source, route->dest, reason);
        return -1;
    }
    return 0;
}

static void
s_print_stats (settings_t *settings, const char *when)
{
    for (route_t *route = (route_t *) zlistx_first (settings->routes); route;
         route = (route_t *) zlistx_next (settings->routes)) {
        if (!route->actor)
            continue;
        char *stats = zshm_bridge_stats (route->actor);
        zsys_info ("zshm-bridge: %s %s -> %s: %s", when, route->source, route->dest,
                   stats ? stats : "(no answer)");
        free (stats);
    }
}

int
main (int argc, char **argv)
{
    zsys_init ();
    zsys_set_logstream (stderr);
    zsys_set_logident ("zshm-bridge");
    settings_t settings;
    memset (&settings, 0, sizeof settings);
    settings.stats = 10;
    settings.routes = zlistx_new ();
    zlistx_set_destructor (settings.routes, (zlistx_destructor_fn *) s_route_destroy);
    bool help = false;
    s_parse_args (&settings, argc, argv, &help);
    int status = 0;
    zactor_t *auth = NULL;
    if (help)
        printf ("%s", s_usage);
    else
    if (settings.keygen && !s_error)
        status = s_keygen (settings.keygen);
    else
    if (!s_error && settings.curve_allow) {
        //  zauth answers the ZAP requests of every socket in the process:
        //  CURVE clients whose public certificate is in the directory are
        //  let in, all others are refused during the handshake.
        struct stat st;
        if (!streq (settings.curve_allow, "*")
        &&  (stat (settings.curve_allow, &st) || !S_ISDIR (st.st_mode)))
            s_fail ("--curve-allow %s: not a directory", settings.curve_allow);
        else {
            auth = zactor_new (zauth, NULL);
            if (settings.verbose) {
                zstr_sendx (auth, "VERBOSE", NULL);
                zsock_wait (auth);
            }
            zstr_sendx (auth, "CURVE", streq (settings.curve_allow, "*")
                        ? CURVE_ALLOW_ANY : settings.curve_allow, NULL);
            zsock_wait (auth);
        }
    }
    if (!help && !settings.keygen && !s_error) {
        for (route_t *route = (route_t *) zlistx_first (settings.routes); route && !s_error;
             route = (route_t *) zlistx_next (settings.routes))
            s_route_start (&settings, route);
    }
    if (!help && !settings.keygen && !s_error) {
        int64_t next_stats = zclock_mono () + settings.stats * 1000;
        while (!zsys_interrupted) {
            zclock_sleep (100);
            if (settings.verbose && zclock_mono () >= next_stats) {
                s_print_stats (&settings, "stats");
                next_stats += settings.stats * 1000;
            }
        }
        s_print_stats (&settings, "exit");
    }
    if (s_error) {
        fprintf (stderr, "zshm-bridge: %s\n", s_error);
        status = 1;
    }
    zlistx_destroy (&settings.routes);
    zactor_destroy (&auth);
    free (settings.curve_allow);
    free (settings.config);
    free (settings.keygen);
    free (s_error);
    return status;
}
