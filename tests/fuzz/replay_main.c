/*  =========================================================================
    replay_main - run a fuzz target over files, without libFuzzer

    Linked with one fuzz target (its LLVMFuzzerTestOneInput) and built with
    the ordinary compiler, this replays seed corpora and crash reproducers
    as regression tests in `make check`:

        tests/fuzz/NAME-replay [-v] FILE|DIR...

    Each FILE, and each regular file in each DIR (in name order, so runs
    repeat), is fed to the target once.  A target that crashes or aborts
    takes the program down, which fails the test.  Exit 0 when at least one
    input ran and every run returned 0 or -1 (libFuzzer's "do not add to
    the corpus"), 1 otherwise.
    =========================================================================
*/

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
//  Optional in a target, as with libFuzzer.
int LLVMFuzzerInitialize (int *argc, char ***argv) __attribute__ ((weak));

static bool s_verbose;

//  Feed one file to the target.  Returns 0, or -1 if it could not be read
//  or the target refused it with another value than 0 or -1.
static int
s_replay_file (const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file) {
        fprintf (stderr, "replay: %s: %s\n", path, strerror (errno));
        return -1;
    }
    size_t size = 0, allocated = 4096;
    uint8_t *data = (uint8_t *) malloc (allocated);
    size_t got;
    while (data && (got = fread (data + size, 1, allocated - size, file)) > 0) {
        size += got;
        if (size == allocated) {
            uint8_t *bigger = (uint8_t *) realloc (data, allocated * 2);
            if (!bigger) {
                free (data);
                data = NULL;
                break;
            }
            data = bigger;
            allocated *= 2;
        }
    }
    bool failed = ferror (file) || !data;
    fclose (file);
    if (failed) {
        fprintf (stderr, "replay: %s: read failed\n", path);
        free (data);
        return -1;
    }
    //  An exact-size copy, so that AddressSanitizer (in sanitized builds)
    //  catches a read one byte past the input, as under libFuzzer.
    uint8_t *input = (uint8_t *) malloc (size ? size : 1);
    if (!input) {
        free (data);
        return -1;
    }
    memcpy (input, data, size);
    free (data);
    if (s_verbose)
        printf ("replay: %s (%zu bytes)\n", path, size);
    int rc = LLVMFuzzerTestOneInput (input, size);
    free (input);
    if (rc != 0 && rc != -1) {
        fprintf (stderr, "replay: %s: target returned %d\n", path, rc);
        return -1;
    }
    return 0;
}

static int
s_compare_names (const void *left, const void *right)
{
    return strcmp (*(char * const *) left, *(char * const *) right);
}

//  Feed every regular file in a directory, in name order.  Returns the
//  number replayed, or -1 on any failure.
static int
s_replay_dir (const char *dirname)
{
    DIR *dir = opendir (dirname);
    if (!dir) {
        fprintf (stderr, "replay: %s: %s\n", dirname, strerror (errno));
        return -1;
    }
    char **names = NULL;
    size_t count = 0;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        if (entry->d_name [0] == '.')
            continue;
        char **more = (char **) realloc (names, (count + 1) * sizeof *names);
        if (!more)
            break;
        names = more;
        names [count] = strdup (entry->d_name);
        if (names [count])
            count++;
    }
    closedir (dir);
    if (count)
        qsort (names, count, sizeof *names, s_compare_names);
    int replayed = 0;
    for (size_t index = 0; index < count; index++) {
        char path [PATH_MAX];
        struct stat st;
        snprintf (path, sizeof path, "%s/%s", dirname, names [index]);
        if (stat (path, &st) == 0 && S_ISREG (st.st_mode)) {
            if (replayed >= 0 && s_replay_file (path) == 0)
                replayed++;
            else
                replayed = -1;
        }
        free (names [index]);
    }
    free (names);
    return replayed;
}

int
main (int argc, char **argv)
{
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize (&argc, &argv);
    int replayed = 0;
    bool failed = false;
    for (int arg = 1; arg < argc; arg++) {
        if (strcmp (argv [arg], "-v") == 0) {
            s_verbose = true;
            continue;
        }
        struct stat st;
        if (stat (argv [arg], &st)) {
            fprintf (stderr, "replay: %s: %s\n", argv [arg], strerror (errno));
            failed = true;
        }
        else
        if (S_ISDIR (st.st_mode)) {
            int count = s_replay_dir (argv [arg]);
            if (count < 0)
                failed = true;
            else
                replayed += count;
        }
        else
        if (s_replay_file (argv [arg]) == 0)
            replayed++;
        else
            failed = true;
    }
    if (replayed == 0) {
        fprintf (stderr, "replay: no input replayed\n");
        failed = true;
    }
    printf ("replay: %d inputs%s\n", replayed, failed ? ", FAILED" : "");
    return failed ? 1 : 0;
}
