/*  =========================================================================
    fuzz_mmap_guard - guard pages around shared mappings, for fuzz builds

    AddressSanitizer watches the heap, the stack and globals, not memory
    from mmap: a ring reading past its segment's mapping would read the
    neighbouring mapping in silence.  `make fuzz` links every target with
    -Wl,--wrap=mmap -Wl,--wrap=munmap, which sends the library's calls here.
    Each shared file mapping is placed between two inaccessible pages, so
    an access beyond either end faults at once and libFuzzer reports it
    (to the page: bytes past the end within the last page are not caught).
    Every other mapping passes straight through.

    zshm_fuzz_mapped () tells a target whether a pointer range lies inside
    a live shared mapping (e.g. what zshm_reader_peek returned).

    Only in fuzz builds: the replay programs link the shared library, whose
    calls no --wrap can reach, and get no guard pages.
    =========================================================================
*/

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#define S_MAPPINGS 64

typedef struct {
    uint8_t *region;            //  reservation, guard pages included; NULL if free
    size_t region_size;         //  bytes reserved
    uint8_t *start;             //  what the caller got
    size_t size;                //  what the caller asked for
} s_mapping_t;

static s_mapping_t s_mappings [S_MAPPINGS];
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;

void *__real_mmap (void *addr, size_t length, int prot, int flags, int fd, off_t offset);
int __real_munmap (void *addr, size_t length);
void *__wrap_mmap (void *addr, size_t length, int prot, int flags, int fd, off_t offset);
int __wrap_munmap (void *addr, size_t length);
bool zshm_fuzz_mapped (const void *pointer, size_t size);

void *
__wrap_mmap (void *addr, size_t length, int prot, int flags, int fd, off_t offset)
{
    if (addr || fd < 0 || !(flags & MAP_SHARED) || (flags & MAP_FIXED) || length == 0)
        return __real_mmap (addr, length, prot, flags, fd, offset);

    size_t page = (size_t) sysconf (_SC_PAGESIZE);
    size_t span = (length + page - 1) / page * page;
    size_t region_size = span + 2 * page;
    pthread_mutex_lock (&s_lock);
    s_mapping_t *mapping = NULL;
    for (int index = 0; index < S_MAPPINGS && !mapping; index++)
        if (!s_mappings [index].region)
            mapping = &s_mappings [index];
    if (!mapping) {
        pthread_mutex_unlock (&s_lock);
        return __real_mmap (addr, length, prot, flags, fd, offset);
    }
    //  Reserve the whole span inaccessible, then map the file over its
    //  middle: the first and last page stay PROT_NONE.
    uint8_t *region = (uint8_t *) __real_mmap (NULL, region_size, PROT_NONE,
                                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                                               -1, 0);
    if (region == MAP_FAILED) {
        pthread_mutex_unlock (&s_lock);
        return MAP_FAILED;
    }
    void *start = __real_mmap (region + page, length, prot, flags | MAP_FIXED, fd, offset);
    if (start == MAP_FAILED) {
        int error = errno;
        __real_munmap (region, region_size);
        pthread_mutex_unlock (&s_lock);
        errno = error;
        return MAP_FAILED;
    }
    mapping->region = region;
    mapping->region_size = region_size;
    mapping->start = (uint8_t *) start;
    mapping->size = length;
    pthread_mutex_unlock (&s_lock);
    return start;
}

int
__wrap_munmap (void *addr, size_t length)
{
    pthread_mutex_lock (&s_lock);
    for (int index = 0; index < S_MAPPINGS; index++) {
        s_mapping_t *mapping = &s_mappings [index];
        if (mapping->region && mapping->start == (uint8_t *) addr) {
            int rc = __real_munmap (mapping->region, mapping->region_size);
            mapping->region = NULL;
            pthread_mutex_unlock (&s_lock);
            return rc;
        }
    }
    pthread_mutex_unlock (&s_lock);
    return __real_munmap (addr, length);
}

bool
zshm_fuzz_mapped (const void *pointer, size_t size)
{
    const uint8_t *bytes = (const uint8_t *) pointer;
    bool inside = false;
    pthread_mutex_lock (&s_lock);
    for (int index = 0; index < S_MAPPINGS && !inside; index++) {
        s_mapping_t *mapping = &s_mappings [index];
        inside = mapping->region && bytes >= mapping->start
              && size <= mapping->size
              && (size_t) (bytes - mapping->start) <= mapping->size - size;
    }
    pthread_mutex_unlock (&s_lock);
    return inside;
}
