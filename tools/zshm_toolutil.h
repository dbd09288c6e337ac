/*  =========================================================================
    zshm_toolutil - small helpers shared by zshm stat, cat and clean

    Scanning the channel directory, strict number parsing for flags, and
    printing untrusted bytes safely (JSON strings, C escapes, base64, hex
    dumps).  Everything here treats its input as hostile: names in the
    channel directory and payload bytes come from other processes.
    =========================================================================
*/

#ifndef ZSHM_TOOLUTIL_H_INCLUDED
#define ZSHM_TOOLUTIL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

//  Prefixes of the files libzshm makes in zshm_ring_dir ().
#define ZSHM_TOOL_CHANNEL_PREFIX "zshm."
#define ZSHM_TOOL_TEMP_PREFIX    "zshm-new."

//  One file of the channel directory that belongs to zshm.
typedef struct {
    char *file;                 //  file name within the directory
    char *name;                 //  channel name (file minus "zshm."), NULL for a temporary
    bool temp;                  //  a creator's temporary, zshm-new.PID.RANDOM
    pid_t temp_pid;             //  that creator's pid, 0 if the name does not parse
} zshm_scan_entry_t;

//  List the files of zshm_ring_dir () named like channels or temporaries,
//  sorted by file name.  Stores a new array owned by the caller (free it
//  with zshm_scan_free) and its length.  Returns 0, or -1 with errno from
//  opendir or ENOMEM.
int
    zshm_scan (zshm_scan_entry_t **entries_p, size_t *count_p);

//  Free what zshm_scan returned; nulls the caller's pointer.
void
    zshm_scan_free (zshm_scan_entry_t **entries_p, size_t count);

//  The channel name in a command-line argument: "shm://NAME" or "NAME".
//  Returns a pointer into arg (never NULL).
const char *
    zshm_tool_channel_arg (const char *arg);

//  What the file at `path` is, unless a regular file: "symbolic link",
//  "directory", "FIFO", "socket", "device"; NULL for a regular file or one
//  that cannot be examined (errno set then).  Does not follow symlinks.
const char *
    zshm_tool_file_kind (const char *path);

//  True if a process with this pid exists (EPERM counts as existing).
bool
    zshm_tool_pid_alive (pid_t pid);

//  Parse a whole decimal integer in [min, max].  Returns 0 and stores it,
//  or -1 (nothing stored) for empty text, trailing junk, or out of range.
int
    zshm_tool_parse_int (const char *text, long long min, long long max, long long *value_p);

//  Parse a whole decimal number of seconds in (0, max].  Returns 0 or -1.
int
    zshm_tool_parse_seconds (const char *text, double max, double *value_p);

//  Match `--name VALUE` or `--name=VALUE` at argv[*index].  Returns 1 and
//  stores the value (advancing *index past it), 0 if argv[*index] is not
//  this option, or -1 if the value is missing.
int
    zshm_tool_option (int argc, char **argv, int *index, const char *name,
                      const char **value_p);

//  True if the bytes are valid UTF-8 (no overlongs, no surrogates).
bool
    zshm_tool_utf8_valid (const void *data, size_t size);

//  True if the bytes are valid UTF-8 with no control characters other than
//  tab, newline and carriage return: safe and sensible to show as text.
bool
    zshm_tool_is_text (const void *data, size_t size);

//  Print the bytes as a JSON string with its quotes.  Invalid UTF-8 bytes
//  become U+FFFD, so the output is always valid JSON.
void
    zshm_tool_json_string (FILE *out, const void *data, size_t size);

//  Print the bytes C-escaped as protoc's text format does (\n \r \t \" \'
//  \\ and three-digit octal for other bytes outside printable ASCII),
//  without quotes.
void
    zshm_tool_c_escape (FILE *out, const void *data, size_t size);

//  Print the bytes in standard base64 with padding, without quotes.
void
    zshm_tool_base64 (FILE *out, const void *data, size_t size);

//  Print a hex dump, 16 bytes a line: offset, hex bytes, printable ASCII,
//  each line prefixed with `indent` spaces.
void
    zshm_tool_hexdump (FILE *out, const void *data, size_t size, int indent);

//  Self test of these helpers.
void
    zshm_toolutil_test (bool verbose);

#endif
