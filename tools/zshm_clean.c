/*  =========================================================================
    zshm clean - remove what dead publishers left behind

    zshm clean [--dry-run] [--all] [--verbose]

    A channel stays in /dev/shm after its writer exits, on purpose: readers
    drain it and a restarted writer continues its sequence.  After a crash
    nobody may come back, and the segments only hold memory.  clean removes
    the channels whose writer is dead, and the temporaries of creators that
    died mid-creation, and never a live one.

    Liveness is the writer's lock, which the kernel drops when the process
    dies (zshm_ring_probe).  Probing and then unlinking by name would race
    with a new writer taking the dead segment over between the two steps,
    so the removal holds the segment's lock shared across the unlink: a
    writer cannot take over a segment while anyone holds its lock, and the
    inode is checked to still be the file at that name before it goes.
    (This uses the lock protocol of zshm_ring.c directly, flock on the
    segment; a ring function that unlinks only a dead writer's segment
    would let the tool forget it.)
    =========================================================================
*/

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zshm.h"
#include "zshm_tools.h"
#include "zshm_toolutil.h"

//  What happened to one file.
typedef enum {
    S_REMOVED,                  //  removed (or would be, on a dry run)
    S_ALIVE,                    //  someone holds its lock: kept
    S_SKIPPED,                  //  not ours to judge: kept, with a reason
    S_FAILED                    //  removal failed: kept, exit 1
} s_outcome_t;

//  Options and counters of one run.
typedef struct {
    bool dry_run;               //  only say what would go
    bool all;                   //  also remove invalid files nobody holds
    bool verbose;               //  also list what is kept
    int removed;                //  files removed (or would be)
    int alive;                  //  files kept because they are alive
    int skipped;                //  files kept for another reason
    int failed;                 //  removals that failed
} s_clean_t;

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: zshm clean [--dry-run] [--all] [--verbose]\n"
        "\n"
        "Remove zshm channels in %s whose writer is dead, and the\n"
        "temporaries of creators that died while creating a channel.  A\n"
        "channel whose writer is alive is never removed.\n"
        "\n"
        "  --dry-run    list what would be removed, remove nothing\n"
        "  --all        also remove files named like channels that are not valid\n"
        "               segments (and stray symlinks), when no process holds them\n"
        "  --verbose    also list what is kept and why\n"
        "  --help       show this help\n"
        "\n"
        "The directory is $ZSHM_DIR when set.  Exit status 0, or 1 if a removal\n"
        "failed or the directory cannot be read.\n",
        zshm_ring_dir ());
}

static void
s_report (s_clean_t *self, s_outcome_t outcome, const char *file, const char *why)
{
    const char *verb = NULL;
    switch (outcome) {
        case S_REMOVED:
            self->removed++;
            verb = self->dry_run ? "would remove" : "removed";
            break;
        case S_ALIVE:
            self->alive++;
            verb = self->verbose ? "kept" : NULL;
            break;
        case S_SKIPPED:
            self->skipped++;
            verb = "skipped";
            break;
        case S_FAILED:
            self->failed++;
            fputs ("zshm clean: cannot remove ", stderr);
            zshm_tool_c_escape (stderr, file, strlen (file));
            fprintf (stderr, ": %s\n", why);
            return;
    }
    if (!verb)
        return;
    printf ("%s ", verb);
    zshm_tool_c_escape (stdout, file, strlen (file));
    printf (" (%s)\n", why);
}

//  Remove the file at `path` if it is a regular file whose lock nobody
//  holds.  Returns S_REMOVED, S_ALIVE, S_SKIPPED (with *why set) or
//  S_FAILED (errno set).
static s_outcome_t
s_remove_if_unlocked (s_clean_t *self, const char *path, const char **why)
{
    int fd = open (path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        *why = errno == ENOENT ? "removed meanwhile" : strerror (errno);
        return S_SKIPPED;
    }
    struct stat opened, named;
    if (fstat (fd, &opened) || !S_ISREG (opened.st_mode)) {
        close (fd);
        *why = "not a regular file";
        return S_SKIPPED;
    }
    if (flock (fd, LOCK_SH | LOCK_NB)) {
        int error = errno;
        close (fd);
        if (error == EWOULDBLOCK)
            return S_ALIVE;
        *why = strerror (error);
        return S_SKIPPED;
    }
    //  We hold the lock shared: no writer can take the segment over until
    //  we let go.  Make sure the name still means the file we locked.
    if (lstat (path, &named) || named.st_dev != opened.st_dev
    ||  named.st_ino != opened.st_ino) {
        close (fd);
        *why = "replaced meanwhile";
        return S_SKIPPED;
    }
    s_outcome_t outcome = S_REMOVED;
    if (!self->dry_run && unlink (path)) {
        outcome = S_FAILED;
        *why = strerror (errno);
    }
    close (fd);                 //  drops our lock
    return outcome;
}

static void
s_clean_channel (s_clean_t *self, const zshm_scan_entry_t *entry, const char *path)
{
    char why [256];
    const char *reason = NULL;
    if (zshm_ring_name_valid (entry->name)) {
        zshm_ring_t *ring = zshm_ring_open (entry->name);
        if (ring) {
            zshm_ring_info_t info;
            zshm_ring_info (ring, &info);
            zshm_ring_destroy (&ring);
            snprintf (why, sizeof why, "writer pid %d %s", (int) info.writer_pid,
                      info.writer_alive ? "alive" : "dead");
            if (info.writer_alive) {
                s_report (self, S_ALIVE, entry->file, why);
                return;
            }
            s_outcome_t outcome = s_remove_if_unlocked (self, path, &reason);
            if (outcome == S_ALIVE)
                snprintf (why, sizeof why, "writer came back meanwhile");
            s_report (self, outcome, entry->file, outcome == S_REMOVED ? why
                                                 : outcome == S_ALIVE ? why : reason);
            return;
        }
        if (errno == ENOENT)
            return;             //  removed meanwhile
        if (errno == EACCES || errno == EPERM) {
            //  Another user's channel: not ours to judge.
            s_report (self, S_SKIPPED, entry->file, strerror (errno));
            return;
        }
        snprintf (why, sizeof why, "invalid: %s", strerror (errno));
    }
    else
        snprintf (why, sizeof why, "invalid: not a valid channel name");

    //  Not a segment we can read.  Only --all touches it, and then only if
    //  nobody holds its lock: it may be a newer writer's layout.
    struct stat st;
    if (lstat (path, &st)) {
        if (errno != ENOENT)
            s_report (self, S_SKIPPED, entry->file, strerror (errno));
        return;
    }
    const char *kind = zshm_tool_file_kind (path);
    if (kind && !S_ISLNK (st.st_mode)) {
        snprintf (why, sizeof why, "%s, never removed", kind);
        s_report (self, S_SKIPPED, entry->file, why);
        return;
    }
    if (S_ISLNK (st.st_mode))
        snprintf (why, sizeof why, "invalid: symbolic link");
    if (!self->all) {
        strncat (why, "; --all removes it", sizeof why - strlen (why) - 1);
        s_report (self, S_SKIPPED, entry->file, why);
        return;
    }
    if (S_ISLNK (st.st_mode)) {
        //  A stray symlink: removing the link never touches its target.
        if (!self->dry_run && unlink (path))
            s_report (self, S_FAILED, entry->file, strerror (errno));
        else
            s_report (self, S_REMOVED, entry->file, why);
        return;
    }
    s_outcome_t outcome = s_remove_if_unlocked (self, path, &reason);
    if (outcome == S_ALIVE)
        strncat (why, "; held by a live process", sizeof why - strlen (why) - 1);
    s_report (self, outcome, entry->file,
              outcome == S_REMOVED || outcome == S_ALIVE ? why : reason);
}

static void
s_clean_temp (s_clean_t *self, const zshm_scan_entry_t *entry, const char *path)
{
    char why [128];
    if (!entry->temp_pid) {
        //  Not named as libzshm names temporaries; only --all judges it.
        if (!self->all) {
            s_report (self, S_SKIPPED, entry->file, "unrecognised name; --all removes it");
            return;
        }
        snprintf (why, sizeof why, "unrecognised temporary");
    }
    else
    if (zshm_tool_pid_alive (entry->temp_pid)) {
        snprintf (why, sizeof why, "creator pid %d alive", (int) entry->temp_pid);
        s_report (self, S_ALIVE, entry->file, why);
        return;
    }
    else
        snprintf (why, sizeof why, "creator pid %d dead", (int) entry->temp_pid);
    //  The creator locks its temporary while it builds it; a reused pid or
    //  a creator in another pid namespace still shows up as the lock.
    const char *reason = NULL;
    s_outcome_t outcome = s_remove_if_unlocked (self, path, &reason);
    if (outcome == S_ALIVE)
        snprintf (why, sizeof why, "held by a live process");
    s_report (self, outcome, entry->file,
              outcome == S_REMOVED || outcome == S_ALIVE ? why : reason);
}

int
zshm_clean_main (int argc, char **argv)
{
    s_clean_t self;
    memset (&self, 0, sizeof self);
    for (int index = 1; index < argc; index++) {
        const char *arg = argv [index];
        if (strcmp (arg, "--help") == 0 || strcmp (arg, "-h") == 0) {
            s_usage (stdout);
            return 0;
        }
        if (strcmp (arg, "--dry-run") == 0 || strcmp (arg, "-n") == 0)
            self.dry_run = true;
        else
        if (strcmp (arg, "--all") == 0)
            self.all = true;
        else
        if (strcmp (arg, "--verbose") == 0 || strcmp (arg, "-v") == 0)
            self.verbose = true;
        else
        if (*arg == '-') {
            fprintf (stderr, "zshm clean: unknown option '%s' (try 'zshm clean --help')\n",
                     arg);
            return 1;
        }
        else {
            fprintf (stderr, "zshm clean: unexpected argument '%s' (clean takes no "
                             "channel names)\n", arg);
            return 1;
        }
    }
    zshm_scan_entry_t *entries = NULL;
    size_t count = 0;
    if (zshm_scan (&entries, &count)) {
        fprintf (stderr, "zshm clean: cannot read %s: %s\n", zshm_ring_dir (),
                 strerror (errno));
        return 1;
    }
    for (size_t index = 0; index < count; index++) {
        const zshm_scan_entry_t *entry = &entries [index];
        char path [PATH_MAX];
        int length = snprintf (path, sizeof path, "%s/%s", zshm_ring_dir (), entry->file);
        if (length < 0 || (size_t) length >= sizeof path) {
            s_report (&self, S_SKIPPED, entry->file, "path too long");
            continue;
        }
        if (entry->temp)
            s_clean_temp (&self, entry, path);
        else
            s_clean_channel (&self, entry, path);
    }
    zshm_scan_free (&entries, count);
    printf ("%d %s, %d alive kept, %d skipped%s\n", self.removed,
            self.dry_run ? "would be removed" : "removed", self.alive, self.skipped,
            self.failed ? ", some removals failed" : "");
    fflush (stdout);
    if (self.failed) {
        fprintf (stderr, "zshm clean: %d removal%s failed\n", self.failed,
                 self.failed == 1 ? "" : "s");
        return 1;
    }
    return ferror (stdout) ? 1 : 0;
}
