/*
 * lazyfs: a FUSE pass-through file system that can forget everything not yet made durable,
 * so that a test can simulate a power cut (the idea of Jepsen's LazyFS, kept small).
 *
 *   lazyfs --backing DIR --mount DIR --control SOCKET_PATH [--exit-on-stdin-eof]
 *
 * Design: every operation really happens on the backing dir (so reads are always right and
 * nothing has to be merged at read time). What is not durable yet is described by an UNDO log:
 *
 *  - data: per inode, the file size at its last fsync and the old bytes of every range first
 *    written (or cut off by a truncate) since then. First write wins, so the saved bytes never
 *    exceed the synced size, however often a file is rewritten without fsync (SQLite's -shm).
 *    The record keeps its own fd to the backing file, so renames and unlinks do not matter.
 *    fsync/fdatasync of any handle of the inode drops the record.
 *  - namespace: create, mkdir, unlink, rmdir, rename, link and symlink are logged with how to
 *    undo them. Removed or overwritten files are kept alive in a hidden stash dir inside the
 *    backing dir. An entry becomes durable once every directory it touched (both parents for a
 *    rename) has been fsynced after it.
 *
 * `cut` (control socket) undoes the namespace entries that are not durable, newest first, then
 * puts back every inode's old bytes and size. One global mutex serialises every operation and
 * the cut, so a cut never sees half an operation.
 *
 * `cut torn seed=N` is the same cut, then a torn write per file: of the last write since the
 * file's last fsync (kept in its undo record), a prefix of whole 512-byte sectors
 * (0 to all of them, from a generator seeded with N) is written again, as a disk that lost
 * power in the middle of that write would have kept it. The file grows as far as that prefix
 * needs; a file the cut unlinked (created and never made durable) gets nothing.
 *
 * Kernel caching: no writeback cache (a write reaches this daemon before write(2) returns, so
 * once a SIGKILLed process has exited all of its writes are here); no kernel_cache/auto_cache,
 * so the kernel drops a file's cached pages whenever it is opened again (after a cut a reader
 * must see the restored bytes, not pages cached before the cut); attribute, entry and negative
 * timeouts are 0 so sizes and names are asked for again after a cut. Not direct_io: SQLite
 * maps its -shm file shared, which FUSE allows only through the page cache. Pages written
 * through such a map reach us when the kernel writes them back, possibly after the writer died
 * and even after a cut; for the -shm that is harmless (SQLite rebuilds it from the WAL when the
 * first connection opens the database).
 */
#define FUSE_USE_VERSION 35
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

/* Hidden from the mount; the suffix makes a clash with a real file name implausible. */
#define STASH ".lazyfs-stash-5e1d7a"
#define MAX_LINE 256
#define MAX_CLIENTS 8

static int backing_fd = -1;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void logf_(const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	fputs("lazyfs: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---------------------------------------------------------------- data undo (per inode) */

struct span {
	off_t off;
	size_t len, cap;
	char *data; /* the bytes as they were at the last sync */
};

struct undo_file {
	dev_t dev;
	ino_t ino;
	int fd;          /* O_RDWR on the backing inode, ours alone */
	off_t orig_size; /* size at the last sync */
	struct span *spans; /* sorted by offset, disjoint, adjacent ones merged */
	size_t n, cap;
	/* The newest write since the sync, for a torn cut: its new bytes, not old ones. The kernel
	 * hands one write(2) over in pieces (split at page boundaries, at most 128 KiB each), so a
	 * request that continues the previous one is joined to it, up to MAX_LAST_WRITE. */
	off_t last_off;
	size_t last_len, last_cap;
	char *last_data;
	struct undo_file *next;
};

static struct undo_file *undo_files;

static struct undo_file *find_undo(dev_t dev, ino_t ino, struct undo_file ***link_out) {
	struct undo_file **link = &undo_files;
	for (; *link; link = &(*link)->next) {
		if ((*link)->dev == dev && (*link)->ino == ino) {
			if (link_out) *link_out = link;
			return *link;
		}
	}
	return NULL;
}

static void free_undo(struct undo_file *u) {
	for (size_t i = 0; i < u->n; i++) free(u->spans[i].data);
	free(u->spans);
	free(u->last_data);
	close(u->fd);
	free(u);
}

/* Forgets the undo record of the inode behind fd (it was just fsynced). */
static void drop_undo_fd(int fd) {
	struct stat st;
	struct undo_file **link;
	if (fstat(fd, &st) < 0) return;
	struct undo_file *u = find_undo(st.st_dev, st.st_ino, &link);
	if (!u) return;
	*link = u->next;
	free_undo(u);
}

/* Forgets the record of an inode that no name reaches any more (removed, and the removal can
 * no longer be undone): nothing could ever read what a cut would restore. Without this, every
 * -shm file SQLite deletes at close would keep its saved bytes until the next cut. */
static void forget_if_gone(dev_t dev, ino_t ino) {
	struct stat st;
	struct undo_file **link;
	struct undo_file *u = find_undo(dev, ino, &link);
	if (!u || fstat(u->fd, &st) < 0 || st.st_nlink > 0) return;
	*link = u->next;
	free_undo(u);
}

/* The undo record of the regular file behind fd, created on its first change since a sync.
 * NULL with *err = 0 for things we do not track (not a regular file). */
static struct undo_file *undo_for_fd(int fd, int *err) {
	struct stat st;
	char proc[64];
	*err = 0;
	if (fstat(fd, &st) < 0) return *err = -errno, NULL;
	if (!S_ISREG(st.st_mode)) return NULL;
	struct undo_file *u = find_undo(st.st_dev, st.st_ino, NULL);
	if (u) return u;
	u = calloc(1, sizeof *u);
	if (!u) return *err = -ENOMEM, NULL;
	/* Reopen through /proc: the caller's handle may be write-only or O_APPEND. */
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	u->fd = open(proc, O_RDWR | O_CLOEXEC);
	if (u->fd < 0) {
		*err = -errno;
		free(u);
		return NULL;
	}
	u->dev = st.st_dev;
	u->ino = st.st_ino;
	u->orig_size = st.st_size;
	u->next = undo_files;
	undo_files = u;
	return u;
}

static int read_old(int fd, char *buf, size_t len, off_t off) {
	size_t got = 0;
	while (got < len) {
		ssize_t r = pread(fd, buf + got, len - got, off + (off_t)got);
		if (r < 0) {
			if (errno == EINTR) continue;
			return -errno;
		}
		if (r == 0) break;
		got += (size_t)r;
	}
	/* Past the current end the old bytes were saved by the truncate that cut them; zeros are
	 * only a fallback that should not happen. */
	memset(buf + got, 0, len - got);
	return 0;
}

static int grow_span(struct span *s, size_t need) {
	if (need <= s->cap) return 0;
	size_t cap = s->cap ? s->cap : 4096;
	while (cap < need) cap *= 2;
	char *data = realloc(s->data, cap);
	if (!data) return -ENOMEM;
	s->data = data;
	s->cap = cap;
	return 0;
}

/* Saves the old bytes of [lo, hi), none of which is saved yet, as span index i (the first span
 * after lo). Returns the index of the span now holding them. */
static long add_span(struct undo_file *u, size_t i, off_t lo, off_t hi) {
	size_t len = (size_t)(hi - lo);
	struct span *s;
	int err;
	if (i > 0 && u->spans[i - 1].off + (off_t)u->spans[i - 1].len == lo) {
		/* Touches the previous span: extend it, so sequential writes make one span. */
		i--;
		s = &u->spans[i];
		if ((err = grow_span(s, s->len + len)) < 0) return err;
		if ((err = read_old(u->fd, s->data + s->len, len, lo)) < 0) return err;
		s->len += len;
	} else {
		if (u->n == u->cap) {
			size_t cap = u->cap ? u->cap * 2 : 8;
			struct span *spans = realloc(u->spans, cap * sizeof *spans);
			if (!spans) return -ENOMEM;
			u->spans = spans;
			u->cap = cap;
		}
		struct span fresh = {.off = lo, .len = 0, .cap = 0, .data = NULL};
		if ((err = grow_span(&fresh, len)) < 0) return err;
		if ((err = read_old(u->fd, fresh.data, len, lo)) < 0) {
			free(fresh.data);
			return err;
		}
		fresh.len = len;
		memmove(&u->spans[i + 1], &u->spans[i], (u->n - i) * sizeof *u->spans);
		u->spans[i] = fresh;
		u->n++;
	}
	s = &u->spans[i];
	if (i + 1 < u->n && u->spans[i + 1].off == s->off + (off_t)s->len) {
		struct span *next = &u->spans[i + 1];
		if ((err = grow_span(s, s->len + next->len)) < 0) return err;
		memcpy(s->data + s->len, next->data, next->len);
		s->len += next->len;
		free(next->data);
		memmove(next, next + 1, (u->n - i - 2) * sizeof *u->spans);
		u->n--;
	}
	return (long)i;
}

/* Before [lo, hi) of u's file changes: save whatever part of it, within the synced size, is
 * not saved yet. Bytes beyond the synced size need nothing: the cut truncates them away. */
static int save_range(struct undo_file *u, off_t lo, off_t hi) {
	if (hi > u->orig_size) hi = u->orig_size;
	if (lo < 0) lo = 0;
	if (lo >= hi) return 0;
	/* Binary search: the first span that ends after lo. */
	size_t a = 0, b = u->n;
	while (a < b) {
		size_t mid = (a + b) / 2;
		if (u->spans[mid].off + (off_t)u->spans[mid].len <= lo) a = mid + 1;
		else b = mid;
	}
	size_t i = a;
	off_t cur = lo;
	while (cur < hi) {
		if (i < u->n && u->spans[i].off <= cur) {
			off_t end = u->spans[i].off + (off_t)u->spans[i].len;
			if (end > cur) cur = end;
			i++;
			continue;
		}
		off_t gap_end = (i < u->n && u->spans[i].off < hi) ? u->spans[i].off : hi;
		long at = add_span(u, i, cur, gap_end);
		if (at < 0) return (int)at;
		i = (size_t)at + 1;
		cur = u->spans[at].off + (off_t)u->spans[at].len;
	}
	return 0;
}

/* Truncates the file behind fd to size, saving what a shrink cuts off. */
static int lazy_truncate_fd(int fd, off_t size) {
	int err;
	struct undo_file *u = undo_for_fd(fd, &err);
	if (err) return err;
	if (!u) return ftruncate(fd, size) < 0 ? -errno : 0;
	struct stat st;
	if (fstat(u->fd, &st) < 0) return -errno;
	if (size < st.st_size && (err = save_range(u, size, st.st_size)) < 0) return err;
	return ftruncate(u->fd, size) < 0 ? -errno : 0;
}

#define MAX_LAST_WRITE (1 << 20)

/* Remembers buf as u's newest write (for a torn cut), joined to the previous one when it
 * continues it. Out of memory: the previous one is forgotten too, so a torn cut never brings
 * back a write older than the newest. */
static void remember_write(struct undo_file *u, const char *buf, size_t len, off_t off) {
	size_t keep = u->last_len > 0 && u->last_off + (off_t)u->last_len == off && u->last_len + len <= MAX_LAST_WRITE ? u->last_len : 0;
	if (keep + len > u->last_cap) {
		char *data = realloc(u->last_data, keep + len);
		if (!data) {
			u->last_len = 0;
			return;
		}
		u->last_data = data;
		u->last_cap = keep + len;
	}
	memcpy(u->last_data + keep, buf, len);
	if (!keep) u->last_off = off;
	u->last_len = keep + len;
}

/* ---------------------------------------------------------------- namespace undo log */

enum op_kind { OP_CREATED, OP_MKDIR, OP_UNLINKED, OP_RMDIR, OP_RENAMED };

struct ns_entry {
	enum op_kind kind;
	char *path;   /* what was created or removed; for a rename its destination */
	char *from;   /* rename source */
	char *stash;  /* stash path of a removed or overwritten file, or NULL */
	ino_t ino;    /* OP_CREATED: the inode created, so the undo removes only that */
	mode_t mode;  /* OP_RMDIR, or a rename over an empty dir: the dir to recreate */
	int replaced_dir;
	char *dirs[2];
	int synced[2];
	int ndirs;
};

static struct ns_entry **entries; /* oldest first */
static size_t n_entries, cap_entries;
static unsigned long stash_seq;

/* "/a/b" -> "a/b", "/" -> "." : paths relative to backing_fd for the *at calls. */
static const char *rel(const char *path) {
	while (*path == '/') path++;
	return *path ? path : ".";
}

static int is_hidden(const char *path) {
	const char *r = rel(path);
	size_t n = strlen(STASH);
	return strncmp(r, STASH, n) == 0 && (r[n] == 0 || r[n] == '/');
}

static char *parent_of(const char *path) {
	const char *r = rel(path);
	const char *slash = strrchr(r, '/');
	return slash ? strndup(r, (size_t)(slash - r)) : strdup(".");
}

static char *next_stash(void) {
	char *name;
	if (asprintf(&name, STASH "/%lu", ++stash_seq) < 0) return NULL;
	return name;
}

static void free_entry(struct ns_entry *e) {
	free(e->path);
	free(e->from);
	free(e->stash);
	for (int i = 0; i < e->ndirs; i++) free(e->dirs[i]);
	free(e);
}

/* Appends an entry; takes ownership of the strings. On failure the operation is already done,
 * so the best we can do is say that it will survive a cut. */
static void log_entry(enum op_kind kind, const char *path, const char *from, char *stash) {
	struct ns_entry *e = calloc(1, sizeof *e);
	if (e && n_entries == cap_entries) {
		size_t cap = cap_entries ? cap_entries * 2 : 16;
		struct ns_entry **grown = realloc(entries, cap * sizeof *entries);
		if (grown) {
			entries = grown;
			cap_entries = cap;
		}
	}
	if (!e || n_entries == cap_entries) {
		logf_("out of memory: an operation on %s will survive a cut", path);
		free(e);
		free(stash);
		return;
	}
	e->kind = kind;
	e->path = strdup(rel(path));
	e->from = from ? strdup(rel(from)) : NULL;
	e->stash = stash;
	e->dirs[e->ndirs++] = parent_of(path);
	if (from) {
		char *other = parent_of(from);
		if (strcmp(other, e->dirs[0]) == 0) free(other);
		else e->dirs[e->ndirs++] = other;
	}
	entries[n_entries++] = e;
}

static struct ns_entry *last_entry(void) {
	return n_entries ? entries[n_entries - 1] : NULL;
}

/* Removes a stash item that is no longer needed (its removal became durable). */
static void discard_stash(const char *stash) {
	struct stat st;
	if (!stash) return;
	int known = fstatat(backing_fd, stash, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (unlinkat(backing_fd, stash, 0) < 0 && errno != ENOENT) logf_("cannot remove %s: %s", stash, strerror(errno));
	else if (known) forget_if_gone(st.st_dev, st.st_ino);
}

/* fsyncdir(dir): entries that touched dir are synced there; those synced everywhere are durable. */
static void mark_dir_synced(const char *dir) {
	size_t kept = 0;
	for (size_t i = 0; i < n_entries; i++) {
		struct ns_entry *e = entries[i];
		int all = 1;
		for (int d = 0; d < e->ndirs; d++) {
			if (strcmp(e->dirs[d], dir) == 0) e->synced[d] = 1;
			all &= e->synced[d];
		}
		if (all) {
			discard_stash(e->stash);
			free_entry(e);
		} else {
			entries[kept++] = e;
		}
	}
	n_entries = kept;
}

static int undo_entry(struct ns_entry *e) {
	struct stat st;
	switch (e->kind) {
	case OP_CREATED:
		/* Only if the name still holds what we created (later entries were undone first). */
		if (fstatat(backing_fd, e->path, &st, AT_SYMLINK_NOFOLLOW) < 0) return -errno;
		if (st.st_ino != e->ino) return -ESTALE;
		return unlinkat(backing_fd, e->path, 0) < 0 ? -errno : 0;
	case OP_MKDIR:
		return unlinkat(backing_fd, e->path, AT_REMOVEDIR) < 0 ? -errno : 0;
	case OP_UNLINKED:
		return renameat(backing_fd, e->stash, backing_fd, e->path) < 0 ? -errno : 0;
	case OP_RMDIR:
		return mkdirat(backing_fd, e->path, e->mode) < 0 ? -errno : 0;
	case OP_RENAMED:
		if (renameat(backing_fd, e->path, backing_fd, e->from) < 0) return -errno;
		if (e->stash && renameat(backing_fd, e->stash, backing_fd, e->path) < 0) return -errno;
		if (e->replaced_dir && mkdirat(backing_fd, e->path, e->mode) < 0) return -errno;
		return 0;
	}
	return -EINVAL;
}

/* ---------------------------------------------------------------- control: pending and cut */

struct report {
	unsigned long files, entries;
	unsigned long long bytes;
	unsigned long torn; /* files that got a torn write (torn cut only) */
};

/* A torn cut: whether, its generator, and where it lists "<bytes kept>:<path>" per file. */
struct tear {
	int on;
	uint64_t rng;
	FILE *list;
};

#define SECTOR 512
/* Torn files named in the answer; the count covers all (the answer line stays short). */
#define MAX_TORN_LISTED 16

static struct report pending_report(void) {
	struct report r = {0, n_entries, 0, 0};
	for (struct undo_file *u = undo_files; u; u = u->next) {
		struct stat st;
		r.files++;
		for (size_t i = 0; i < u->n; i++) r.bytes += u->spans[i].len;
		if (fstat(u->fd, &st) == 0 && st.st_size > u->orig_size) r.bytes += (unsigned long long)(st.st_size - u->orig_size);
	}
	return r;
}

static int write_all(int fd, const char *buf, size_t len, off_t off) {
	size_t done = 0;
	while (done < len) {
		ssize_t w = pwrite(fd, buf + done, len - done, off + (off_t)done);
		if (w < 0 && errno == EINTR) continue;
		if (w <= 0) return w < 0 ? -errno : -EIO;
		done += (size_t)w;
	}
	return 0;
}

/* splitmix64: small, and the same sequence for the same seed on every machine. */
static uint64_t next_random(uint64_t *state) {
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A name of inode (dev, ino) below the open dir `dir`, depth first, into path (which holds the
 * dir's own path, `len` bytes): 0 when found. The stash is skipped: no name on the mount. */
static int find_name(int dir, char *path, size_t len, dev_t dev, ino_t ino, int depth) {
	DIR *d = dir < 0 || depth > 64 ? NULL : fdopendir(dir);
	struct dirent *de;
	int found = -1;
	if (!d) {
		if (dir >= 0) close(dir);
		return -1;
	}
	while (found < 0 && (de = readdir(d)) != NULL) {
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || (len == 0 && !strcmp(de->d_name, STASH))) continue;
		int n = snprintf(path + len, PATH_MAX - len, "%s%s", len ? "/" : "", de->d_name);
		if (n < 0 || (size_t)n >= PATH_MAX - len || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
		if (st.st_dev == dev && st.st_ino == ino) found = 0;
		else if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0) found = find_name(sub, path, len + (size_t)n, dev, ino, depth + 1);
		}
	}
	if (found < 0) path[len] = 0;
	closedir(d);
	return found;
}

/* After u's file was rolled back: writes again a prefix of its newest write, 0 to all of its
 * sectors, and lists the file with what survived. A file no name reaches is left alone. */
static void tear_file(struct undo_file *u, struct tear *t, struct report *r) {
	char path[PATH_MAX] = "";
	struct stat st;
	size_t sectors = (u->last_len + SECTOR - 1) / SECTOR;
	size_t kept = (size_t)(next_random(&t->rng) % (sectors + 1)) * SECTOR;
	if (kept > u->last_len) kept = u->last_len; /* the last sector of a write that is not whole */
	if (u->last_len == 0 || fstat(u->fd, &st) < 0 || st.st_nlink == 0) return;
	/* A fresh open: a dup would share (and leave at the end) backing_fd's directory position. */
	if (find_name(openat(backing_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), path, 0, u->dev, u->ino, 0) < 0) return;
	int err = write_all(u->fd, u->last_data, kept, u->last_off);
	if (err) {
		logf_("cut: torn write to %s: %s", path, strerror(-err));
		return;
	}
	logf_("cut: torn write to %s: %zu of %zu bytes at %lld kept", path, kept, u->last_len, (long long)u->last_off);
	if (r->torn++ >= MAX_TORN_LISTED) return;
	/* Percent-escaped, so that the answer stays one line of printable words. */
	fprintf(t->list, " %zu:", kept);
	for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("._/-", *c)) fputc(*c, t->list);
		else fprintf(t->list, "%%%02X", *c);
	}
}

static struct report cut(struct tear *t) {
	struct report r = pending_report();
	/* Newest first, so every undo finds the names as they were right after its operation. */
	for (size_t i = n_entries; i-- > 0;) {
		struct ns_entry *e = entries[i];
		int err = undo_entry(e);
		if (err) logf_("cut: cannot undo an operation on %s: %s", e->path, strerror(-err));
		/* An undo that failed leaves its stash item; it is not reachable any more. */
		if (err) discard_stash(e->stash);
		free_entry(e);
	}
	n_entries = 0;
	while (undo_files) {
		struct undo_file *u = undo_files;
		undo_files = u->next;
		int err = ftruncate(u->fd, u->orig_size) < 0 ? -errno : 0;
		if (err) logf_("cut: truncate: %s", strerror(-err));
		for (size_t i = 0; i < u->n; i++) {
			if ((err = write_all(u->fd, u->spans[i].data, u->spans[i].len, u->spans[i].off)) < 0) logf_("cut: restore write: %s", strerror(-err));
		}
		if (t->on) tear_file(u, t, &r);
		free_undo(u);
	}
	return r;
}

/* ---------------------------------------------------------------- FUSE operations */

#define HIDE(path, code) \
	do { \
		if ((path) && is_hidden(path)) return -(code); \
	} while (0)

static void *lz_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE; /* writes must arrive synchronously (see top) */
	cfg->use_ino = 1;
	cfg->nullpath_ok = 1; /* every handle op works on fi->fh, so unlinked open files work */
	cfg->hard_remove = 1; /* no .fuse_hidden files: a removal is a removal in the backing dir */
	cfg->entry_timeout = 0;
	cfg->attr_timeout = 0;
	cfg->negative_timeout = 0;
	cfg->kernel_cache = 0;
	cfg->auto_cache = 0;
	cfg->direct_io = 0;
	return NULL;
}

static int lz_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
	int res;
	pthread_mutex_lock(&lock);
	if (fi) res = fstat((int)fi->fh, st);
	else if (is_hidden(path)) res = -1, errno = ENOENT;
	else res = fstatat(backing_fd, rel(path), st, AT_SYMLINK_NOFOLLOW);
	pthread_mutex_unlock(&lock);
	return res < 0 ? -errno : 0;
}

static int lz_access(const char *path, int mask) {
	HIDE(path, ENOENT);
	pthread_mutex_lock(&lock);
	int res = faccessat(backing_fd, rel(path), mask, 0) < 0 ? -errno : 0;
	pthread_mutex_unlock(&lock);
	return res;
}

static int lz_readlink(const char *path, char *buf, size_t size) {
	HIDE(path, ENOENT);
	pthread_mutex_lock(&lock);
	ssize_t n = readlinkat(backing_fd, rel(path), buf, size - 1);
	int err = n < 0 ? -errno : 0;
	pthread_mutex_unlock(&lock);
	if (err) return err;
	buf[n] = 0;
	return 0;
}

/* An open directory: its fd, and its path when opened, because with nullpath_ok libfuse gives
 * readdir and fsyncdir no path and fsyncdir needs one to know which log entries it covers. */
struct dir_handle {
	int fd;
	char *rel;
};

static int lz_opendir(const char *path, struct fuse_file_info *fi) {
	HIDE(path, ENOENT);
	struct dir_handle *h = calloc(1, sizeof *h);
	if (!h || !(h->rel = strdup(rel(path)))) {
		free(h);
		return -ENOMEM;
	}
	pthread_mutex_lock(&lock);
	h->fd = openat(backing_fd, h->rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	pthread_mutex_unlock(&lock);
	if (h->fd < 0) {
		int err = -errno;
		free(h->rel);
		free(h);
		return err;
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	return 0;
}

static int lz_releasedir(const char *path, struct fuse_file_info *fi) {
	(void)path;
	struct dir_handle *h = (struct dir_handle *)(uintptr_t)fi->fh;
	close(h->fd);
	free(h->rel);
	free(h);
	return 0;
}

static int lz_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t offset, struct fuse_file_info *fi, enum fuse_readdir_flags flags) {
	(void)path;
	(void)offset;
	(void)flags;
	struct dir_handle *h = (struct dir_handle *)(uintptr_t)fi->fh;
	pthread_mutex_lock(&lock);
	/* A fresh DIR on a dup each time: the listing is read whole (offset 0 to fill(), libfuse
	 * buffers it), so there is no position to keep between calls. */
	int fd = fcntl(h->fd, F_DUPFD_CLOEXEC, 0);
	DIR *dir = fd < 0 ? NULL : fdopendir(fd);
	int err = dir ? 0 : -errno;
	if (!dir && fd >= 0) close(fd);
	if (dir) rewinddir(dir);
	int root = strcmp(h->rel, ".") == 0;
	struct dirent *de;
	while (dir && (de = readdir(dir)) != NULL) {
		if (root && strcmp(de->d_name, STASH) == 0) continue;
		struct stat st = {.st_ino = de->d_ino, .st_mode = DTTOIF(de->d_type)};
		if (fill(buf, de->d_name, &st, 0, 0)) break;
	}
	if (dir) closedir(dir);
	pthread_mutex_unlock(&lock);
	return err;
}

static int lz_mknod(const char *path, mode_t mode, dev_t rdev) {
	struct stat st;
	HIDE(path, EPERM);
	pthread_mutex_lock(&lock);
	int err = mknodat(backing_fd, rel(path), mode, rdev) < 0 ? -errno : 0;
	if (!err && fstatat(backing_fd, rel(path), &st, AT_SYMLINK_NOFOLLOW) == 0) {
		log_entry(OP_CREATED, path, NULL, NULL);
		if (last_entry()) last_entry()->ino = st.st_ino;
	}
	pthread_mutex_unlock(&lock);
	return err;
}

static int lz_mkdir(const char *path, mode_t mode) {
	HIDE(path, EPERM);
	pthread_mutex_lock(&lock);
	int err = mkdirat(backing_fd, rel(path), mode) < 0 ? -errno : 0;
	if (!err) log_entry(OP_MKDIR, path, NULL, NULL);
	pthread_mutex_unlock(&lock);
	return err;
}

/* Takes a name away for unlink or rmdir, given its lstat; may leave a stash path (owned by the
 * caller) that brings it back on a cut. 0 or -errno. */
typedef int (*name_remover)(const char *path, const struct stat *st, char **stash);

/* What unlink and rmdir share: the name must exist in the backing dir; `take` removes it, and the
 * removal goes into the undo log as `kind` (an rmdir with the dir's mode, to recreate it). */
static int remove_name(const char *path, enum op_kind kind, name_remover take) {
	struct stat st;
	HIDE(path, ENOENT);
	pthread_mutex_lock(&lock);
	char *stash = NULL;
	int err = fstatat(backing_fd, rel(path), &st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : take(path, &st, &stash);
	if (!err) {
		log_entry(kind, path, NULL, stash);
		if (kind == OP_RMDIR && last_entry()) last_entry()->mode = st.st_mode & 07777;
	} else {
		free(stash);
	}
	pthread_mutex_unlock(&lock);
	return err;
}

/* Moves the name into the stash instead of removing it, so a cut can bring it back. */
static int stash_file(const char *path, const struct stat *st, char **stash) {
	if (S_ISDIR(st->st_mode)) return -EISDIR;
	if (!(*stash = next_stash())) return -ENOMEM;
	return renameat(backing_fd, rel(path), backing_fd, *stash) < 0 ? -errno : 0;
}

/* An empty dir has nothing to keep but its mode: a cut recreates it. */
static int remove_dir(const char *path, const struct stat *st, char **stash) {
	(void)st;
	(void)stash;
	return unlinkat(backing_fd, rel(path), AT_REMOVEDIR) < 0 ? -errno : 0;
}

static int lz_unlink(const char *path) {
	return remove_name(path, OP_UNLINKED, stash_file);
}

static int lz_rmdir(const char *path) {
	return remove_name(path, OP_RMDIR, remove_dir);
}

static int lz_symlink(const char *target, const char *path) {
	struct stat st;
	HIDE(path, EPERM);
	pthread_mutex_lock(&lock);
	int err = symlinkat(target, backing_fd, rel(path)) < 0 ? -errno : 0;
	if (!err && fstatat(backing_fd, rel(path), &st, AT_SYMLINK_NOFOLLOW) == 0) {
		log_entry(OP_CREATED, path, NULL, NULL);
		if (last_entry()) last_entry()->ino = st.st_ino;
	}
	pthread_mutex_unlock(&lock);
	return err;
}

static int lz_link(const char *from, const char *to) {
	struct stat st;
	HIDE(from, ENOENT);
	HIDE(to, EPERM);
	pthread_mutex_lock(&lock);
	int err = linkat(backing_fd, rel(from), backing_fd, rel(to), 0) < 0 ? -errno : 0;
	if (!err && fstatat(backing_fd, rel(to), &st, AT_SYMLINK_NOFOLLOW) == 0) {
		log_entry(OP_CREATED, to, NULL, NULL);
		if (last_entry()) last_entry()->ino = st.st_ino;
	}
	pthread_mutex_unlock(&lock);
	return err;
}

static int do_rename(const char *from, const char *to, unsigned int flags) {
	struct stat sf, st;
	if (flags & ~RENAME_NOREPLACE) return -EINVAL; /* RENAME_EXCHANGE is not needed here */
	if (fstatat(backing_fd, rel(from), &sf, AT_SYMLINK_NOFOLLOW) < 0) return -errno;
	if (fstatat(backing_fd, rel(to), &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT) return -errno;
		if (renameat(backing_fd, rel(from), backing_fd, rel(to)) < 0) return -errno;
		log_entry(OP_RENAMED, to, from, NULL);
		return 0;
	}
	if (flags & RENAME_NOREPLACE) return -EEXIST;
	if (sf.st_dev == st.st_dev && sf.st_ino == st.st_ino) return 0; /* POSIX: same file, no-op */
	if (S_ISDIR(st.st_mode)) {
		/* Over an empty dir (the kernel checks): a cut recreates it like an rmdir. */
		if (renameat(backing_fd, rel(from), backing_fd, rel(to)) < 0) return -errno;
		log_entry(OP_RENAMED, to, from, NULL);
		if (last_entry()) {
			last_entry()->replaced_dir = 1;
			last_entry()->mode = st.st_mode & 07777;
		}
		return 0;
	}
	if (S_ISDIR(sf.st_mode)) return -ENOTDIR;
	/* Keep the overwritten file alive under a stash name; the rename itself stays atomic. */
	char *stash = next_stash();
	if (!stash) return -ENOMEM;
	if (linkat(backing_fd, rel(to), backing_fd, stash, 0) < 0) {
		int err = -errno;
		free(stash);
		return err;
	}
	if (renameat(backing_fd, rel(from), backing_fd, rel(to)) < 0) {
		int err = -errno;
		discard_stash(stash);
		free(stash);
		return err;
	}
	log_entry(OP_RENAMED, to, from, stash);
	return 0;
}

static int lz_rename(const char *from, const char *to, unsigned int flags) {
	HIDE(from, ENOENT);
	HIDE(to, EPERM);
	pthread_mutex_lock(&lock);
	int err = do_rename(from, to, flags);
	pthread_mutex_unlock(&lock);
	return err;
}

static int lz_chmod(const char *path, mode_t mode, struct fuse_file_info *fi) {
	HIDE(path, ENOENT);
	pthread_mutex_lock(&lock);
	int res = (fi ? fchmod((int)fi->fh, mode) : fchmodat(backing_fd, rel(path), mode, 0)) < 0 ? -errno : 0;
	pthread_mutex_unlock(&lock);
	return res;
}

static int lz_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi) {
	HIDE(path, ENOENT);
	pthread_mutex_lock(&lock);
	int res = (fi ? fchown((int)fi->fh, uid, gid) : fchownat(backing_fd, rel(path), uid, gid, AT_SYMLINK_NOFOLLOW)) < 0 ? -errno : 0;
	pthread_mutex_unlock(&lock);
	return res;
}

static int lz_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi) {
	HIDE(path, ENOENT);
	pthread_mutex_lock(&lock);
	int res = (fi ? futimens((int)fi->fh, tv) : utimensat(backing_fd, rel(path), tv, AT_SYMLINK_NOFOLLOW)) < 0 ? -errno : 0;
	pthread_mutex_unlock(&lock);
	return res;
}

static int lz_truncate(const char *path, off_t size, struct fuse_file_info *fi) {
	HIDE(path, ENOENT);
	pthread_mutex_lock(&lock);
	int err;
	if (fi) {
		err = lazy_truncate_fd((int)fi->fh, size);
	} else {
		int fd = openat(backing_fd, rel(path), O_WRONLY | O_CLOEXEC);
		err = fd < 0 ? -errno : lazy_truncate_fd(fd, size);
		if (fd >= 0) close(fd);
	}
	pthread_mutex_unlock(&lock);
	return err;
}

/* Opens (creating when asked) the backing file; O_TRUNC goes through lazy_truncate_fd so the
 * bytes it cuts off can come back. */
static int open_backing(const char *path, int flags, mode_t mode, struct fuse_file_info *fi) {
	struct stat st;
	int existed = fstatat(backing_fd, rel(path), &st, AT_SYMLINK_NOFOLLOW) == 0;
	int fd = openat(backing_fd, rel(path), (flags & ~O_TRUNC) | O_CLOEXEC, mode);
	if (fd < 0) return -errno;
	int err = 0;
	if (!existed) {
		if (fstat(fd, &st) == 0) {
			log_entry(OP_CREATED, path, NULL, NULL);
			if (last_entry()) last_entry()->ino = st.st_ino;
		}
	} else if ((flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY) {
		err = lazy_truncate_fd(fd, 0);
	}
	if (err) {
		close(fd);
		return err;
	}
	fi->fh = (uint64_t)fd;
	return 0;
}

static int lz_open(const char *path, struct fuse_file_info *fi) {
	HIDE(path, ENOENT);
	pthread_mutex_lock(&lock);
	int err = open_backing(path, fi->flags & ~O_CREAT, 0, fi);
	pthread_mutex_unlock(&lock);
	return err;
}

static int lz_create(const char *path, mode_t mode, struct fuse_file_info *fi) {
	HIDE(path, EPERM);
	pthread_mutex_lock(&lock);
	int err = open_backing(path, fi->flags | O_CREAT, mode, fi);
	pthread_mutex_unlock(&lock);
	return err;
}

static int lz_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
	(void)path;
	pthread_mutex_lock(&lock);
	ssize_t n = pread((int)fi->fh, buf, size, off);
	int err = n < 0 ? -errno : (int)n;
	pthread_mutex_unlock(&lock);
	return err;
}

static int lz_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
	(void)path;
	int err;
	pthread_mutex_lock(&lock);
	struct undo_file *u = undo_for_fd((int)fi->fh, &err);
	if (!err && u) err = save_range(u, off, off + (off_t)size);
	if (!err) {
		ssize_t n = pwrite((int)fi->fh, buf, size, off);
		err = n < 0 ? -errno : (int)n;
		if (n > 0 && u) remember_write(u, buf, (size_t)n, off);
	}
	pthread_mutex_unlock(&lock);
	return err;
}

static int lz_statfs(const char *path, struct statvfs *st) {
	(void)path;
	pthread_mutex_lock(&lock);
	int res = fstatvfs(backing_fd, st) < 0 ? -errno : 0;
	pthread_mutex_unlock(&lock);
	return res;
}

static int lz_flush(const char *path, struct fuse_file_info *fi) {
	/* Nothing is buffered here and POSIX locks stay in the kernel: nothing to do. */
	(void)path;
	(void)fi;
	return 0;
}

static int lz_release(const char *path, struct fuse_file_info *fi) {
	(void)path;
	struct stat st;
	pthread_mutex_lock(&lock);
	if (fstat((int)fi->fh, &st) == 0) forget_if_gone(st.st_dev, st.st_ino);
	close((int)fi->fh); /* the undo record, if any, keeps its own fd */
	pthread_mutex_unlock(&lock);
	return 0;
}

static int lz_fsync(const char *path, int datasync, struct fuse_file_info *fi) {
	(void)path;
	pthread_mutex_lock(&lock);
	int fd = (int)fi->fh;
	int err = (datasync ? fdatasync(fd) : fsync(fd)) < 0 ? -errno : 0;
	/* fdatasync also makes the size durable as far as reading the data back goes. */
	if (!err) drop_undo_fd(fd);
	pthread_mutex_unlock(&lock);
	return err;
}

static int lz_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi) {
	(void)path;
	(void)datasync;
	struct dir_handle *h = (struct dir_handle *)(uintptr_t)fi->fh;
	pthread_mutex_lock(&lock);
	int err = fsync(h->fd) < 0 ? -errno : 0;
	if (!err) mark_dir_synced(h->rel);
	pthread_mutex_unlock(&lock);
	return err;
}

static const struct fuse_operations ops = {
	.init = lz_init,
	.getattr = lz_getattr,
	.access = lz_access,
	.readlink = lz_readlink,
	.opendir = lz_opendir,
	.releasedir = lz_releasedir,
	.readdir = lz_readdir,
	.mknod = lz_mknod,
	.mkdir = lz_mkdir,
	.unlink = lz_unlink,
	.rmdir = lz_rmdir,
	.symlink = lz_symlink,
	.link = lz_link,
	.rename = lz_rename,
	.chmod = lz_chmod,
	.chown = lz_chown,
	.utimens = lz_utimens,
	.truncate = lz_truncate,
	.open = lz_open,
	.create = lz_create,
	.read = lz_read,
	.write = lz_write,
	.statfs = lz_statfs,
	.flush = lz_flush,
	.release = lz_release,
	.fsync = lz_fsync,
	.fsyncdir = lz_fsyncdir,
};

/* ---------------------------------------------------------------- control socket */

static int active_clients;

/* Seeds are whole numbers a JavaScript number holds exactly (the TypeScript side sends them). */
#define MAX_SEED 9007199254740991ULL

/* The words after "cut": none, or exactly "torn" and "seed=N" (in either order). NULL when
 * they are fine, else why not. */
static const char *parse_cut(const char *words, struct tear *t) {
	char copy[MAX_LINE + 1], *save = NULL;
	int seeded = 0;
	snprintf(copy, sizeof copy, "%s", words);
	for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (strcmp(w, "torn") == 0) {
			if (t->on++) return "torn given twice";
		} else if (strncmp(w, "seed=", 5) == 0) {
			const char *digits = w + 5;
			size_t n = strspn(digits, "0123456789");
			if (seeded++) return "seed given twice";
			if (n == 0 || digits[n] != 0) return "seed must be a whole number (seed=N)";
			if (n > 16 || strtoull(digits, NULL, 10) > MAX_SEED) return "seed must be at most 9007199254740991";
			t->rng = strtoull(digits, NULL, 10);
		} else {
			return "unknown word after cut (expected torn seed=N)";
		}
	}
	if (t->on != seeded) return "a torn cut needs both torn and seed=N";
	return NULL;
}

static void answer(int fd, const char *line) {
	struct report r;
	struct tear tear = {0, 0, NULL};
	char *out = NULL, *list = NULL;
	size_t out_len = 0, list_len = 0;
	const char *why = NULL;
	int is_cut = strcmp(line, "cut") == 0 || strncmp(line, "cut ", 4) == 0;
	FILE *o = open_memstream(&out, &out_len);
	if (!o) return; /* out of memory: the client sees the connection close */
	if (strcmp(line, "ping") == 0) {
		fputs("ok\n", o);
	} else if (strcmp(line, "pending") == 0 || (is_cut && (why = parse_cut(line + 3, &tear)) == NULL)) {
		if (tear.on && !(tear.list = open_memstream(&list, &list_len))) tear.on = 0, why = "out of memory";
		if (!why) {
			pthread_mutex_lock(&lock);
			r = is_cut ? cut(&tear) : pending_report();
			pthread_mutex_unlock(&lock);
			if (tear.list) fclose(tear.list);
			if (is_cut) logf_("cut: files=%lu bytes=%llu entries=%lu%s", r.files, r.bytes, r.entries, tear.on ? " (torn)" : "");
			fprintf(o, "ok files=%lu bytes=%llu entries=%lu", r.files, r.bytes, r.entries);
			/* A plain cut answers as it always did; a torn one adds the count and the list. */
			if (tear.on) fprintf(o, " torn=%lu%s", r.torn, list ? list : "");
			fputc('\n', o);
		}
	}
	if (why) fprintf(o, "error %s\n", why);
	else if (!is_cut && strcmp(line, "ping") && strcmp(line, "pending")) fputs("error unknown command (expected ping, pending, cut or cut torn seed=N)\n", o);
	fclose(o);
	(void)!send(fd, out, out_len, MSG_NOSIGNAL);
	free(out);
	free(list);
}

static void *serve_client(void *arg) {
	int fd = (int)(intptr_t)arg;
	char buf[MAX_LINE + 1];
	size_t len = 0;
	for (;;) {
		ssize_t n = recv(fd, buf + len, sizeof buf - len, 0);
		if (n <= 0) break; /* closed, error, or idle past SO_RCVTIMEO */
		len += (size_t)n;
		char *nl;
		while ((nl = memchr(buf, '\n', len)) != NULL) {
			size_t line_len = (size_t)(nl - buf);
			*nl = 0;
			if (line_len > 0 && buf[line_len - 1] == '\r') buf[line_len - 1] = 0;
			if (line_len > MAX_LINE) goto done;
			answer(fd, buf);
			len -= line_len + 1;
			memmove(buf, nl + 1, len);
		}
		if (len >= MAX_LINE + 1) break; /* a line longer than the limit: drop the client */
	}
done:
	close(fd);
	__atomic_sub_fetch(&active_clients, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void *control_loop(void *arg) {
	int server = (int)(intptr_t)arg;
	for (;;) {
		int fd = accept4(server, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED) continue;
			logf_("control: accept: %s", strerror(errno));
			usleep(100000);
			continue;
		}
		/* A bounded number of clients, each dropped when idle: a stuck client cannot starve us. */
		if (__atomic_add_fetch(&active_clients, 1, __ATOMIC_SEQ_CST) > MAX_CLIENTS) {
			__atomic_sub_fetch(&active_clients, 1, __ATOMIC_SEQ_CST);
			close(fd);
			continue;
		}
		struct timeval idle = {.tv_sec = 60, .tv_usec = 0};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &idle, sizeof idle);
		pthread_t t;
		if (pthread_create(&t, NULL, serve_client, (void *)(intptr_t)fd) != 0) {
			close(fd);
			__atomic_sub_fetch(&active_clients, 1, __ATOMIC_SEQ_CST);
			continue;
		}
		pthread_detach(t);
	}
	return NULL;
}

static int listen_control(const char *path) {
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof addr.sun_path) {
		logf_("control socket path too long (max %zu bytes): %s", sizeof addr.sun_path - 1, path);
		return -1;
	}
	strcpy(addr.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) return -1;
	unlink(path); /* a socket left by a lazyfs that died */
	if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 16) < 0) {
		logf_("control socket %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* With --exit-on-stdin-eof: our parent died when stdin closes; leave as on SIGTERM. */
static void *stdin_watch(void *arg) {
	(void)arg;
	char buf[256];
	for (;;) {
		ssize_t n = read(0, buf, sizeof buf);
		if (n == 0 || (n < 0 && errno != EINTR)) break;
	}
	kill(getpid(), SIGTERM);
	return NULL;
}

/* Our own threads block the exit signals so that they reach the main thread, whose wait in
 * fuse_loop_mt they interrupt (libfuse does the same for its workers). */
static int start_thread(void *(*fn)(void *), void *arg) {
	sigset_t block, old;
	pthread_t t;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	int rc = pthread_create(&t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0) pthread_detach(t);
	return rc;
}

/* Leftovers in the stash belong to operations that can no longer be cut: remove them. */
static void clear_stash(int remove_dir) {
	int fd = openat(backing_fd, STASH, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		DIR *dir = fdopendir(fd);
		struct dirent *de;
		while (dir && (de = readdir(dir)) != NULL) {
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) unlinkat(fd, de->d_name, 0);
		}
		if (dir) closedir(dir);
		else close(fd);
	}
	if (remove_dir) unlinkat(backing_fd, STASH, AT_REMOVEDIR);
}

static void usage(void) {
	fprintf(stderr,
		"usage: lazyfs --backing DIR --mount DIR --control SOCKET_PATH [--exit-on-stdin-eof] [--debug]\n"
		"A FUSE pass-through of DIR that forgets what was not fsynced when told `cut` on the control socket.\n");
}

int main(int argc, char *argv[]) {
	const char *backing = NULL, *mountpoint = NULL, *control = NULL;
	int exit_on_eof = 0, debug = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--exit-on-stdin-eof") == 0) exit_on_eof = 1;
		else if (strcmp(a, "--debug") == 0) debug = 1;
		else if (i + 1 < argc && strcmp(a, "--backing") == 0) backing = argv[++i];
		else if (i + 1 < argc && strcmp(a, "--mount") == 0) mountpoint = argv[++i];
		else if (i + 1 < argc && strcmp(a, "--control") == 0) control = argv[++i];
		else {
			fprintf(stderr, "lazyfs: unknown or incomplete argument: %s\n", a);
			usage();
			return 2;
		}
	}
	if (!backing || !mountpoint || !control) {
		usage();
		return 2;
	}
	backing_fd = open(backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (backing_fd < 0) {
		logf_("backing dir %s: %s", backing, strerror(errno));
		return 1;
	}
	clear_stash(0);
	if (mkdirat(backing_fd, STASH, 0700) < 0 && errno != EEXIST) {
		logf_("cannot create %s/%s: %s", backing, STASH, strerror(errno));
		return 1;
	}
	int server = listen_control(control);
	if (server < 0) return 1;

	char *fargv[] = {argv[0], "-o", "fsname=lazyfs,subtype=lazyfs", debug ? "-d" : NULL, NULL};
	struct fuse_args args = FUSE_ARGS_INIT(debug ? 4 : 3, fargv);
	struct fuse *fuse = fuse_new(&args, &ops, sizeof ops, NULL);
	if (!fuse) return 1;
	if (fuse_mount(fuse, mountpoint) != 0) {
		fuse_destroy(fuse);
		return 1;
	}
	struct fuse_session *se = fuse_get_session(fuse);
	if (fuse_set_signal_handlers(se) != 0) {
		fuse_unmount(fuse);
		fuse_destroy(fuse);
		return 1;
	}
	if (start_thread(control_loop, (void *)(intptr_t)server) != 0 || (exit_on_eof && start_thread(stdin_watch, NULL) != 0)) {
		logf_("cannot start threads");
		fuse_remove_signal_handlers(se);
		fuse_unmount(fuse);
		fuse_destroy(fuse);
		return 1;
	}
	logf_("serving %s on %s, control %s", backing, mountpoint, control);

	struct fuse_loop_config *loop = fuse_loop_cfg_create();
	int rc = fuse_loop_mt(fuse, loop);
	fuse_loop_cfg_destroy(loop);

	fuse_remove_signal_handlers(se);
	fuse_unmount(fuse);
	/* Unmounted without a cut: every change stands, so the stash is garbage now. */
	pthread_mutex_lock(&lock);
	clear_stash(1);
	unlink(control);
	pthread_mutex_unlock(&lock);
	fuse_destroy(fuse);
	logf_("unmounted %s", mountpoint);
	/* The loop reports the signal that ended it as a positive number: that is a normal exit. */
	return rc < 0 ? 1 : 0;
}
