// SPDX-License-Identifier: Apache-2.0
// gmime_parse: the GMime 3 anchor for mime_throughput. It does the same work on the same files
// and prints the same line, named "gmime":
//   --mode=walk (default)  g_mime_parser_construct_message over a memory stream, visit every part
//                          (g_mime_message_foreach, descending into message/rfc822 parts), and
//                          transfer-decode every leaf with g_mime_data_wrapper_write_to_stream
//                          into a null stream
//   --mode=parse           parse only
// Files are read into memory first; the clock covers only the parsing (the copy into the memory
// stream included, as mailkit's parse(std::string_view) copies into its buffer).
// --peak parses one file held once in memory (read into a GByteArray the memory stream adopts),
// walks and decodes it, and reports the peak RSS (getrusage ru_maxrss) and its ratio to the
// input size.
//
// Output, one line: "gmime mode=walk decode=stream files=200 repeat=5 bytes=... parts=...
// decoded=... seconds=... mb_per_s=..." (MB = 10^6 bytes). Exit status: 0 success, 1 unreadable
// file or parse failure, 2 usage.
#define _POSIX_C_SOURCE 200809L
#include <gmime/gmime.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

struct walk_state {
  GMimeStream *sink; /* a null stream: decoded bytes are counted, not kept */
  int decode;
  size_t parts;
  size_t decoded;
  int failed;
};

static void visit(GMimeObject *parent, GMimeObject *part, gpointer user_data);

static void walk_message(GMimeMessage *msg, struct walk_state *st) {
  if (g_mime_message_get_mime_part(msg) == NULL)
    return;
  /* Calls visit on the root part, then on every part of nested multiparts. */
  g_mime_message_foreach(msg, visit, st);
}

static void visit(GMimeObject *parent, GMimeObject *part, gpointer user_data) {
  struct walk_state *st = user_data;
  (void)parent;
  st->parts++;
  if (GMIME_IS_MESSAGE_PART(part)) {
    /* message/rfc822: the message part, then the embedded message's own tree. */
    GMimeMessage *inner = g_mime_message_part_get_message((GMimeMessagePart *)part);
    if (inner != NULL)
      walk_message(inner, st);
    return;
  }
  if (!st->decode || !GMIME_IS_PART(part))
    return;
  GMimeDataWrapper *content = g_mime_part_get_content((GMimePart *)part);
  if (content == NULL)
    return;
  ssize_t n = g_mime_data_wrapper_write_to_stream(content, st->sink);
  if (n < 0)
    st->failed = 1;
  else
    st->decoded += (size_t)n;
}

static int parse_and_walk(GMimeStream *stream, struct walk_state *st) {
  GMimeParser *parser = g_mime_parser_new_with_stream(stream);
  GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);
  g_object_unref(parser);
  if (msg == NULL)
    return -1;
  walk_message(msg, st);
  g_object_unref(msg);
  return st->failed ? -1 : 0;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long max_rss_kb(void) {
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss; /* kilobytes on Linux */
}

/* Read a whole file into a GByteArray sized once. */
static GByteArray *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "gmime_parse: cannot open %s: %s\n", path, strerror(errno));
    return NULL;
  }
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0) {
    fclose(f);
    return NULL;
  }
  GByteArray *a = g_byte_array_sized_new((guint)sb.st_size);
  g_byte_array_set_size(a, (guint)sb.st_size);
  size_t got = 0;
  while (got < (size_t)sb.st_size) {
    size_t n = fread(a->data + got, 1, (size_t)sb.st_size - got, f);
    if (n == 0)
      break;
    got += n;
  }
  fclose(f);
  if (got != (size_t)sb.st_size) {
    fprintf(stderr, "gmime_parse: short read on %s\n", path);
    g_byte_array_unref(a);
    return NULL;
  }
  return a;
}

static int usage(void) {
  fprintf(stderr, "usage: gmime_parse [--peak] [--repeat N] [--mode=parse|walk] FILES...\n");
  return 2;
}

int main(int argc, char **argv) {
  int peak = 0, decode = 1;
  long repeat = 1;
  int first_file = argc;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--peak") == 0)
      peak = 1;
    else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
      repeat = strtol(argv[++i], NULL, 10);
    else if (strncmp(argv[i], "--repeat=", 9) == 0)
      repeat = strtol(argv[i] + 9, NULL, 10);
    else if (strcmp(argv[i], "--mode=walk") == 0)
      decode = 1;
    else if (strcmp(argv[i], "--mode=parse") == 0)
      decode = 0;
    else if (strcmp(argv[i], "--decode=stream") == 0)
      ; /* the only way GMime decodes here; accepted for symmetry with mime_throughput */
    else if (strcmp(argv[i], "--") == 0) {
      first_file = i + 1;
      break;
    } else if (strncmp(argv[i], "--", 2) == 0)
      return usage();
    else {
      first_file = i;
      break;
    }
  }
  const int nfiles = argc - first_file;
  if (nfiles < 1 || repeat < 1 || (peak && nfiles != 1))
    return usage();

  const long baseline_kb = max_rss_kb();
  g_mime_init();
  struct walk_state st = {g_mime_stream_null_new(), decode, 0, 0, 0};
  const char *mode = decode ? "walk" : "parse";
  int rc = 0;

  if (peak) {
    const char *path = argv[first_file];
    const double start = now_seconds();
    GByteArray *a = read_file(path);
    if (a == NULL) {
      rc = 1;
      goto out;
    }
    const size_t size = a->len;
    /* The stream adopts the array: the message is held in memory once. */
    GMimeStream *stream = g_mime_stream_mem_new_with_byte_array(a);
    const int r = parse_and_walk(stream, &st);
    g_object_unref(stream);
    if (r != 0) {
      fprintf(stderr, "gmime_parse: %s: parse failed\n", path);
      rc = 1;
      goto out;
    }
    const double seconds = now_seconds() - start;
    const long peak_kb = max_rss_kb();
    printf("gmime mode=peak decode=stream files=1 repeat=1 bytes=%zu parts=%zu decoded=%zu "
           "seconds=%.4f mb_per_s=%.1f peak_rss_kb=%ld baseline_rss_kb=%ld ratio=%.3f\n",
           size, st.parts, st.decoded, seconds, (double)size / 1e6 / seconds, peak_kb,
           baseline_kb, (double)peak_kb * 1024.0 / (double)size);
    goto out;
  }

  GByteArray **data = g_new0(GByteArray *, nfiles);
  double total = 0;
  for (int i = 0; i < nfiles; ++i) {
    data[i] = read_file(argv[first_file + i]);
    if (data[i] == NULL) {
      rc = 1;
      break;
    }
    total += (double)data[i]->len;
  }
  if (rc == 0) {
    const double start = now_seconds();
    for (long r = 0; r < repeat && rc == 0; ++r) {
      for (int i = 0; i < nfiles; ++i) {
        GMimeStream *stream =
            g_mime_stream_mem_new_with_buffer((const char *)data[i]->data, data[i]->len);
        const int failed = parse_and_walk(stream, &st);
        g_object_unref(stream);
        if (failed != 0) {
          fprintf(stderr, "gmime_parse: %s: parse failed\n", argv[first_file + i]);
          rc = 1;
          break;
        }
      }
    }
    const double seconds = now_seconds() - start;
    const double bytes = total * (double)repeat;
    if (rc == 0)
      printf("gmime mode=%s decode=stream files=%d repeat=%ld bytes=%.0f parts=%zu decoded=%zu "
             "seconds=%.4f mb_per_s=%.1f\n",
             mode, nfiles, repeat, bytes, st.parts, st.decoded, seconds, bytes / 1e6 / seconds);
  }
  for (int i = 0; i < nfiles; ++i)
    if (data[i] != NULL)
      g_byte_array_unref(data[i]);
  g_free(data);

out:
  g_object_unref(st.sink);
  g_mime_shutdown();
  return rc;
}
