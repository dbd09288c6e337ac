/*  =========================================================================
    zshm_toolutil - small helpers shared by zshm stat, cat and clean

    See zshm_toolutil.h.
    =========================================================================
*/

#define _GNU_SOURCE
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "zshm.h"
#include "zshm_toolutil.h"

static int
s_entry_compare (const void *left, const void *right)
{
    return strcmp (((const zshm_scan_entry_t *) left)->file,
                   ((const zshm_scan_entry_t *) right)->file);
}

//  Parse the PID in "zshm-new.PID.RANDOM"; 0 if it does not parse.
static pid_t
s_temp_pid (const char *file)
{
    const char *digits = file + strlen (ZSHM_TOOL_TEMP_PREFIX);
    const char *dot = strchr (digits, '.');
    if (!dot || dot == digits || dot - digits > 10)
        return 0;
    char buffer [16];
    memcpy (buffer, digits, (size_t) (dot - digits));
    buffer [dot - digits] = 0;
    long long pid;
    if (zshm_tool_parse_int (buffer, 1, INT_MAX, &pid))
        return 0;
    return (pid_t) pid;
}

int
zshm_scan (zshm_scan_entry_t **entries_p, size_t *count_p)
{
    assert (entries_p && count_p);
    *entries_p = NULL;
    *count_p = 0;
    DIR *dir = opendir (zshm_ring_dir ());
    if (!dir)
        return -1;
    zshm_scan_entry_t *entries = NULL;
    size_t count = 0, limit = 0;
    struct dirent *dirent;
    while ((dirent = readdir (dir))) {
        const char *file = dirent->d_name;
        bool channel = strncmp (file, ZSHM_TOOL_CHANNEL_PREFIX,
                                strlen (ZSHM_TOOL_CHANNEL_PREFIX)) == 0;
        bool temp = strncmp (file, ZSHM_TOOL_TEMP_PREFIX, strlen (ZSHM_TOOL_TEMP_PREFIX)) == 0;
        if (!channel && !temp)
            continue;
        if (count == limit) {
            size_t new_limit = limit ? limit * 2 : 16;
            zshm_scan_entry_t *grown = (zshm_scan_entry_t *)
                realloc (entries, new_limit * sizeof *entries);
            if (!grown)
                goto failed;
            entries = grown;
            limit = new_limit;
        }
        zshm_scan_entry_t *entry = &entries [count];
        memset (entry, 0, sizeof *entry);
        entry->file = strdup (file);
        if (!entry->file)
            goto failed;
        count++;
        if (channel) {
            entry->name = strdup (file + strlen (ZSHM_TOOL_CHANNEL_PREFIX));
            if (!entry->name)
                goto failed;
        }
        else {
            entry->temp = true;
            entry->temp_pid = s_temp_pid (file);
        }
    }
    closedir (dir);
    if (count)
        qsort (entries, count, sizeof *entries, s_entry_compare);
    *entries_p = entries;
    *count_p = count;
    return 0;

failed:
    closedir (dir);
    zshm_scan_free (&entries, count);
    errno = ENOMEM;
    return -1;
}

void
zshm_scan_free (zshm_scan_entry_t **entries_p, size_t count)
{
    assert (entries_p);
    zshm_scan_entry_t *entries = *entries_p;
    if (!entries)
        return;
    for (size_t index = 0; index < count; index++) {
        free (entries [index].file);
        free (entries [index].name);
    }
    free (entries);
    *entries_p = NULL;
}

const char *
zshm_tool_channel_arg (const char *arg)
{
    assert (arg);
    return strncmp (arg, "shm://", 6) == 0 ? arg + 6 : arg;
}

const char *
zshm_tool_file_kind (const char *path)
{
    struct stat st;
    if (lstat (path, &st))
        return NULL;
    errno = 0;
    if (S_ISREG (st.st_mode))
        return NULL;
    if (S_ISLNK (st.st_mode))
        return "symbolic link";
    if (S_ISDIR (st.st_mode))
        return "directory";
    if (S_ISFIFO (st.st_mode))
        return "FIFO";
    if (S_ISSOCK (st.st_mode))
        return "socket";
    return "device";
}

bool
zshm_tool_pid_alive (pid_t pid)
{
    if (pid <= 0)
        return false;
    return !(kill (pid, 0) == -1 && errno == ESRCH);
}

int
zshm_tool_parse_int (const char *text, long long min, long long max, long long *value_p)
{
    assert (value_p);
    if (!text || !*text)
        return -1;
    //  strtoll accepts leading blanks and a '+'; a flag value should be
    //  exactly digits, with an optional minus.
    const char *digits = *text == '-' ? text + 1 : text;
    if (*digits < '0' || *digits > '9')
        return -1;
    errno = 0;
    char *end = NULL;
    long long value = strtoll (text, &end, 10);
    if (errno || *end || value < min || value > max)
        return -1;
    *value_p = value;
    return 0;
}

int
zshm_tool_parse_seconds (const char *text, double max, double *value_p)
{
    assert (value_p);
    if (!text || !*text || ((*text < '0' || *text > '9') && *text != '.'))
        return -1;
    errno = 0;
    char *end = NULL;
    double value = strtod (text, &end);
    if (errno || *end || !isfinite (value) || value <= 0 || value > max)
        return -1;
    *value_p = value;
    return 0;
}

int
zshm_tool_option (int argc, char **argv, int *index, const char *name, const char **value_p)
{
    assert (argv && index && name && value_p);
    const char *arg = argv [*index];
    size_t length = strlen (name);
    if (strncmp (arg, name, length) != 0)
        return 0;
    if (arg [length] == '=') {
        *value_p = arg + length + 1;
        return 1;
    }
    if (arg [length] != 0)
        return 0;
    if (*index + 1 >= argc)
        return -1;
    *index += 1;
    *value_p = argv [*index];
    return 1;
}

//  Length of the valid UTF-8 sequence at data (1 to 4), or 0 if invalid.
static size_t
s_utf8_sequence (const uint8_t *data, size_t size)
{
    uint8_t lead = data [0];
    if (lead < 0x80)
        return 1;
    size_t length;
    uint32_t point, minimum;
    if ((lead & 0xe0) == 0xc0) {
        length = 2;
        point = lead & 0x1f;
        minimum = 0x80;
    }
    else
    if ((lead & 0xf0) == 0xe0) {
        length = 3;
        point = lead & 0x0f;
        minimum = 0x800;
    }
    else
    if ((lead & 0xf8) == 0xf0) {
        length = 4;
        point = lead & 0x07;
        minimum = 0x10000;
    }
    else
        return 0;
    if (length > size)
        return 0;
    for (size_t index = 1; index < length; index++) {
        if ((data [index] & 0xc0) != 0x80)
            return 0;
        point = (point << 6) | (data [index] & 0x3f);
    }
    if (point < minimum || point > 0x10ffff || (point >= 0xd800 && point <= 0xdfff))
        return 0;
    return length;
}

bool
zshm_tool_utf8_valid (const void *data, size_t size)
{
    const uint8_t *bytes = (const uint8_t *) data;
    size_t offset = 0;
    while (offset < size) {
        size_t length = s_utf8_sequence (bytes + offset, size - offset);
        if (!length)
            return false;
        offset += length;
    }
    return true;
}

bool
zshm_tool_is_text (const void *data, size_t size)
{
    const uint8_t *bytes = (const uint8_t *) data;
    for (size_t index = 0; index < size; index++)
        if ((bytes [index] < 0x20 && bytes [index] != '\t' && bytes [index] != '\n'
             && bytes [index] != '\r')
        ||  bytes [index] == 0x7f)
            return false;
    return zshm_tool_utf8_valid (data, size);
}

void
zshm_tool_json_string (FILE *out, const void *data, size_t size)
{
    const uint8_t *bytes = (const uint8_t *) data;
    fputc ('"', out);
    size_t offset = 0;
    while (offset < size) {
        uint8_t byte = bytes [offset];
        if (byte >= 0x80) {
            size_t length = s_utf8_sequence (bytes + offset, size - offset);
            if (length) {
                fwrite (bytes + offset, 1, length, out);
                offset += length;
            }
            else {
                fputs ("\\ufffd", out);
                offset++;
            }
            continue;
        }
        switch (byte) {
            case '"':  fputs ("\\\"", out); break;
            case '\\': fputs ("\\\\", out); break;
            case '\n': fputs ("\\n", out); break;
            case '\r': fputs ("\\r", out); break;
            case '\t': fputs ("\\t", out); break;
            case '\b': fputs ("\\b", out); break;
            case '\f': fputs ("\\f", out); break;
            default:
                if (byte < 0x20 || byte == 0x7f)
                    fprintf (out, "\\u%04x", byte);
                else
                    fputc (byte, out);
        }
        offset++;
    }
    fputc ('"', out);
}

void
zshm_tool_c_escape (FILE *out, const void *data, size_t size)
{
    const uint8_t *bytes = (const uint8_t *) data;
    for (size_t index = 0; index < size; index++) {
        uint8_t byte = bytes [index];
        switch (byte) {
            case '\n': fputs ("\\n", out); break;
            case '\r': fputs ("\\r", out); break;
            case '\t': fputs ("\\t", out); break;
            case '"':  fputs ("\\\"", out); break;
            case '\'': fputs ("\\'", out); break;
            case '\\': fputs ("\\\\", out); break;
            default:
                if (byte < 0x20 || byte >= 0x7f)
                    fprintf (out, "\\%03o", byte);
                else
                    fputc (byte, out);
        }
    }
}

void
zshm_tool_base64 (FILE *out, const void *data, size_t size)
{
    static const char alphabet [] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *bytes = (const uint8_t *) data;
    size_t index = 0;
    for (; index + 3 <= size; index += 3) {
        uint32_t word = (uint32_t) bytes [index] << 16 | (uint32_t) bytes [index + 1] << 8
                      | bytes [index + 2];
        fputc (alphabet [word >> 18], out);
        fputc (alphabet [(word >> 12) & 63], out);
        fputc (alphabet [(word >> 6) & 63], out);
        fputc (alphabet [word & 63], out);
    }
    if (size - index == 1) {
        uint32_t word = (uint32_t) bytes [index] << 16;
        fputc (alphabet [word >> 18], out);
        fputc (alphabet [(word >> 12) & 63], out);
        fputs ("==", out);
    }
    else
    if (size - index == 2) {
        uint32_t word = (uint32_t) bytes [index] << 16 | (uint32_t) bytes [index + 1] << 8;
        fputc (alphabet [word >> 18], out);
        fputc (alphabet [(word >> 12) & 63], out);
        fputc (alphabet [(word >> 6) & 63], out);
        fputc ('=', out);
    }
}

void
zshm_tool_hexdump (FILE *out, const void *data, size_t size, int indent)
{
    const uint8_t *bytes = (const uint8_t *) data;
    for (size_t line = 0; line < size; line += 16) {
        fprintf (out, "%*s%08zx ", indent, "", line);
        for (size_t index = line; index < line + 16; index++) {
            if (index % 8 == 0)
                fputc (' ', out);
            if (index < size)
                fprintf (out, "%02x ", bytes [index]);
            else
                fputs ("   ", out);
        }
        fputs (" |", out);
        for (size_t index = line; index < line + 16 && index < size; index++)
            fputc (bytes [index] >= 0x20 && bytes [index] < 0x7f ? bytes [index] : '.', out);
        fputs ("|\n", out);
    }
}

//  --------------------------------------------------------------------------
//  Self test

//  Run a printer into a string, compare with the expected text.
#define S_CHECK_OUTPUT(expected, call) do { \
        char *text_ = NULL; \
        size_t size_ = 0; \
        FILE *out = open_memstream (&text_, &size_); \
        assert (out); \
        call; \
        fclose (out); \
        if (strcmp (text_, (expected)) != 0) { \
            fprintf (stderr, "expected [%s] got [%s]\n", (expected), text_); \
            assert (false); \
        } \
        free (text_); \
    } while (0)

void
zshm_toolutil_test (bool verbose)
{
    if (verbose)
        printf (" * zshm_toolutil: ");
    long long value = 7;
    assert (zshm_tool_parse_int ("42", 1, 100, &value) == 0 && value == 42);
    assert (zshm_tool_parse_int ("-1", 1, 100, &value) == -1 && value == 42);
    assert (zshm_tool_parse_int ("abc", 1, 100, &value) == -1);
    assert (zshm_tool_parse_int ("12abc", 1, 100, &value) == -1);
    assert (zshm_tool_parse_int (" 12", 1, 100, &value) == -1);
    assert (zshm_tool_parse_int ("+12", 1, 100, &value) == -1);
    assert (zshm_tool_parse_int ("", 1, 100, &value) == -1);
    assert (zshm_tool_parse_int ("101", 1, 100, &value) == -1);
    assert (zshm_tool_parse_int ("99999999999999999999999", 1, LLONG_MAX, &value) == -1);
    double seconds = 0;
    assert (zshm_tool_parse_seconds ("0.5", 3600, &seconds) == 0 && seconds == 0.5);
    assert (zshm_tool_parse_seconds ("0", 3600, &seconds) == -1);
    assert (zshm_tool_parse_seconds ("-1", 3600, &seconds) == -1);
    assert (zshm_tool_parse_seconds ("nan", 3600, &seconds) == -1);
    assert (zshm_tool_parse_seconds ("inf", 3600, &seconds) == -1);
    assert (zshm_tool_parse_seconds ("1e9", 3600, &seconds) == -1);
    assert (zshm_tool_parse_seconds ("2s", 3600, &seconds) == -1);

    char *argv [] = { "x", "--count", "5", "--count=6", "--counter", "--count" };
    int index = 1;
    const char *option = NULL;
    assert (zshm_tool_option (6, argv, &index, "--count", &option) == 1);
    assert (index == 2 && strcmp (option, "5") == 0);
    index = 3;
    assert (zshm_tool_option (6, argv, &index, "--count", &option) == 1);
    assert (index == 3 && strcmp (option, "6") == 0);
    index = 4;
    assert (zshm_tool_option (6, argv, &index, "--count", &option) == 0);
    index = 5;
    assert (zshm_tool_option (6, argv, &index, "--count", &option) == -1);

    assert (strcmp (zshm_tool_channel_arg ("shm://ticks"), "ticks") == 0);
    assert (strcmp (zshm_tool_channel_arg ("ticks"), "ticks") == 0);
    assert (zshm_tool_pid_alive (getpid ()));
    assert (!zshm_tool_pid_alive (0));

    assert (zshm_tool_utf8_valid ("h\xc3\xa9llo", 6));
    assert (!zshm_tool_utf8_valid ("\xc3", 1));
    assert (!zshm_tool_utf8_valid ("\xc0\xaf", 2));           //  overlong
    assert (!zshm_tool_utf8_valid ("\xed\xa0\x80", 3));       //  surrogate
    assert (!zshm_tool_utf8_valid ("\xf4\x90\x80\x80", 4));   //  past U+10FFFF
    assert (zshm_tool_utf8_valid ("\xf0\x9f\x98\x80", 4));
    assert (zshm_tool_is_text ("a\tb\n", 4));
    assert (!zshm_tool_is_text ("a\0b", 3));
    assert (!zshm_tool_is_text ("\x1b[2J", 4));

    S_CHECK_OUTPUT ("\"a\\\"\\\\\\n\\u0001\\u001b\xc3\xa9\\ufffd\"",
                    zshm_tool_json_string (out, "a\"\\\n\x01\x1b\xc3\xa9\xff", 9));
    S_CHECK_OUTPUT ("a\\n\\\"\\'\\\\\\000\\377\\303\\251",
                    zshm_tool_c_escape (out, "a\n\"'\\\0\xff\xc3\xa9", 9));
    S_CHECK_OUTPUT ("", zshm_tool_base64 (out, "", 0));
    S_CHECK_OUTPUT ("Zg==", zshm_tool_base64 (out, "f", 1));
    S_CHECK_OUTPUT ("Zm8=", zshm_tool_base64 (out, "fo", 2));
    S_CHECK_OUTPUT ("Zm9vYmFy", zshm_tool_base64 (out, "foobar", 6));
    S_CHECK_OUTPUT ("/+8=", zshm_tool_base64 (out, "\xff\xef", 2));
    S_CHECK_OUTPUT ("  00000000  68 69 00                                          |hi.|\n",
                    zshm_tool_hexdump (out, "hi", 3, 2));
    if (verbose)
        printf ("OK\n");
}
