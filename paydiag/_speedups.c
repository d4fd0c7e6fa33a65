/* paydiag._speedups: the gateway-activity scan of paydiag/parse/activity.py in C.
 *
 * Incident detectors must see every gateway line, successes included, and a payment log
 * holds thousands per megabyte; in Python the scan costs about 12 microseconds a line.
 * This module does the same scan in one pass over the bytes. It is optional: without a
 * compiler the build skips it and ActivityScanner runs its pure-Python reference, and the
 * tests hold the two to the same output (tests/test_activity_native.py).
 *
 * Everything this file must agree on with Python (the words, what kind each is, the
 * character classes of \w, \s and str.isalnum() over latin-1) is handed in by
 * ActivityScanner, so there is one definition of each. The value readers below are
 * hand-written forms of the regexes in activity.py, each commented with its regex.
 *
 * Also here, each beside its Python reference and tested against it: the literal candidate
 * scan of match/scanners.py, newline counting, the text fields of parse/fields.py, what a
 * record's words say (parse/event.py's text facts), and the coarser label counts and rolling
 * medians of latency creep.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <math.h>
#include <stdint.h>
#include <string.h>

/* What a word is: the same numbers as activity.py's _GATEWAY ... _DURATION. */
enum { K_GATEWAY, K_STAGE, K_ENVIRONMENT, K_TRANSACTION, K_REQUEST, K_SHAPE, K_DURATION };

/* Character classes of a latin-1 character, as Python's re and str see them. */
enum { C_WORD = 1, C_SPACE = 2, C_DIGIT = 4, C_ISALNUM = 8, C_ISDIGIT = 16 };

#define MAX_BITS 64 /* gateways and stages are bits of a uint64_t */

/* Aho-Corasick over ASCII-lowercased bytes, as a full DFA over byte classes.
 *
 * A step is one load on the scan's critical path: `delta` holds each next state as the
 * offset of its row (rows padded to a power of two, so the state is a shift away), and
 * as that offset's complement when the state has words, so the common step, to a state
 * without any, reads nothing else. See step() and find_hits(). */
typedef struct {
    int32_t states;
    int32_t deepest; /* the longest word: no state stands for more bytes than this */
    int32_t classes; /* per row: the byte classes, padded to 1 << shift */
    int32_t shift;
    unsigned char byte_class[256]; /* byte (before lowering) -> input class */
    int32_t *delta;                /* states x classes: the full transition table, coded */
    int32_t *out_start;            /* per state: where its words start in `outs` */
    int32_t *out_count;
    int32_t *outs;                 /* word indexes, longest first at each state */
    unsigned char *word_kind;
    int32_t *word_value;
} Automaton;

/* The state after reading `byte` at the row `*row`; the row moves on with it. Returns the
 * state when it has words, -1 when it has none (the common case: one load). */
static inline int32_t step(const Automaton *automaton, int32_t *row, unsigned char byte) {
    int32_t next = automaton->delta[*row + automaton->byte_class[byte]];
    if (next >= 0) {
        *row = next;
        return -1;
    }
    *row = ~next;
    return *row >> automaton->shift;
}

/* ---- finding hits ---------------------------------------------------------------- */

/* Where the automaton reaches a state with words, in text order. */
typedef struct {
    Py_ssize_t at;
    int32_t state;
} Hit;

typedef struct {
    Hit *items;
    Py_ssize_t len, cap;
} Hits;

static int hits_push(Hits *hits, Py_ssize_t at, int32_t state) {
    if (hits->len == hits->cap) {
        Py_ssize_t cap = hits->cap ? hits->cap * 2 : 1024;
        Hit *grown = PyMem_Realloc(hits->items, (size_t)cap * sizeof(Hit));
        if (grown == NULL) return -1; /* find_hits() raises */
        hits->items = grown;
        hits->cap = cap;
    }
    hits->items[hits->len++] = (Hit){at, state};
    return 0;
}

static void hits_free(Hits *hits) { PyMem_Free(hits->items); }

/* The start of the line that holds `at`, whose start is after `floor` (a newline, or -1). */
static Py_ssize_t line_start(const unsigned char *text, Py_ssize_t floor, Py_ssize_t at) {
    if (text[at] == '\n') return at + 1; /* a word that ends a line: the scans' convention */
    Py_ssize_t i = at;
    while (i > floor + 1 && text[i - 1] != '\n') i--;
    return i;
}

/* The newlines in text[start:end] (also speedups.count_newlines). Counted a byte at a time
 * in runs of 255, which the compiler vectorises (a run's count fits a byte): twice as fast
 * as a memchr per newline on 1 MiB chunks, and faster on a line's few hundred bytes too. */
static Py_ssize_t newlines_in(const unsigned char *text, Py_ssize_t start, Py_ssize_t end) {
    Py_ssize_t count = 0;
    for (Py_ssize_t i = start; i < end;) {
        Py_ssize_t stop = end - i > 255 ? i + 255 : end;
        unsigned char run = 0;
        for (; i < stop; i++) run += text[i] == '\n';
        count += run;
    }
    return count;
}

#define STRETCHES 4 /* find_hits() writes out its steps for four */

/* One stretch of find_hits(): `from` <= `start` (warming up from the root), to `end`. */
typedef struct {
    Py_ssize_t from, start, end;
    int32_t row;
} Stretch;

static inline int stretch_step(const Automaton *automaton, const unsigned char *text,
                               Stretch *stretch, Py_ssize_t at, Hits *hits) {
    int32_t state = step(automaton, &stretch->row, text[at]);
    return state >= 0 && at >= stretch->start ? hits_push(hits, at, state) : 0;
}

/* Appends to `hits` every position of `text` where the automaton reaches a state with
 * words, in order: 0, or -1 with an exception.
 *
 * A step waits for the load of the one before (see Automaton), so the text is read as
 * STRETCHES stretches at once, several loads in flight. A stretch after the first starts
 * `deepest` bytes early, from the root: a state stands for at most the last `deepest`
 * bytes read, so by the stretch's own first byte it is the state a single pass has. */
static int find_hits(const Automaton *automaton, const unsigned char *text, Py_ssize_t size,
                     Hits *hits) {
    Hits parts[STRETCHES] = {{0}}; /* the first stretch's go straight into `hits` */
    Hits *into[STRETCHES] = {hits, &parts[1], &parts[2], &parts[3]};
    Stretch stretches[STRETCHES];
    int count = size > (Py_ssize_t)STRETCHES * automaton->deepest ? STRETCHES : 1;
    Py_ssize_t steps = size;
    for (int k = 0; k < count; k++) {
        Stretch *stretch = &stretches[k];
        stretch->start = size * k / count;
        stretch->end = size * (k + 1) / count;
        stretch->from = k ? stretch->start - automaton->deepest : 0;
        stretch->row = 0;
        if (stretch->end - stretch->from < steps) steps = stretch->end - stretch->from;
    }
    int status = 0;
    if (count == STRETCHES) { /* the common part in step, then each stretch's rest */
        for (Py_ssize_t i = 0; i < steps && status == 0; i++) {
            status |= stretch_step(automaton, text, &stretches[0], stretches[0].from + i, into[0]);
            status |= stretch_step(automaton, text, &stretches[1], stretches[1].from + i, into[1]);
            status |= stretch_step(automaton, text, &stretches[2], stretches[2].from + i, into[2]);
            status |= stretch_step(automaton, text, &stretches[3], stretches[3].from + i, into[3]);
        }
    } else {
        steps = 0;
    }
    for (int k = 0; k < count && status == 0; k++) {
        Stretch *stretch = &stretches[k];
        for (Py_ssize_t at = stretch->from + steps; at < stretch->end && status == 0; at++)
            status = stretch_step(automaton, text, stretch, at, into[k]);
    }
    for (int k = 1; k < count && status == 0; k++)
        for (Py_ssize_t i = 0; i < parts[k].len && status == 0; i++)
            status = hits_push(hits, parts[k].items[i].at, parts[k].items[i].state);
    for (int k = 1; k < STRETCHES; k++) hits_free(&parts[k]);
    if (status < 0) PyErr_NoMemory();
    return status;
}

static void automaton_free(Automaton *automaton) {
    PyMem_Free(automaton->delta);
    PyMem_Free(automaton->out_start);
    PyMem_Free(automaton->out_count);
    PyMem_Free(automaton->outs);
    PyMem_Free(automaton->word_kind);
    PyMem_Free(automaton->word_value);
}

typedef struct {
    PyObject_HEAD
    Automaton automaton;
    unsigned char flags[256]; /* byte -> C_* flags */
    PyObject *gateways;     /* tuple of str, by value (sorted, so the lowest bit is min()) */
    PyObject *stages;       /* tuple of str, by rank (most final first) */
    PyObject *environments; /* tuple of str */
    long shape_rank;        /* the rank of an ID found by its shape (after every key) */
    int captured;           /* the rank of the stage "captured", which minutes count */
    double max_duration_ms; /* a longer "duration" is a misread number, not read */
    double min_ms, log_step;  /* of the duration buckets: event.duration_bucket() */
    int32_t lowest_bucket;    /* bucket_of(0), the first of a group's bucket counts */
    int32_t bucket_count;     /* to bucket_of(max_duration_ms) */
} Scanner;

/* event.duration_bucket(): the log-scale bucket of a duration in milliseconds (Python's
 * math.log and math.floor are these functions of libm). */
static int32_t bucket_of(const Scanner *self, double ms) {
    return (int32_t)floor(log(ms > self->min_ms ? ms : self->min_ms) / self->log_step);
}

/* One key, shape or duration hit, read once the line turns out to be activity. */
typedef struct {
    unsigned char kind;
    int32_t value;
    Py_ssize_t end; /* offset of the hit's last byte */
} Read;

typedef struct {
    Read *items;
    Py_ssize_t len, cap;
} Reads;

static int reads_push(Reads *reads, unsigned char kind, int32_t value, Py_ssize_t end) {
    if (reads->len == reads->cap) {
        Py_ssize_t cap = reads->cap ? reads->cap * 2 : 16;
        Read *grown = PyMem_Realloc(reads->items, (size_t)cap * sizeof(Read));
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        reads->items = grown;
        reads->cap = cap;
    }
    reads->items[reads->len++] = (Read){kind, value, end};
    return 0;
}

static inline unsigned char ascii_lower(unsigned char c) {
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static inline int ascii_alnum(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline int is_quote(unsigned char c) { return c == '"' || c == '\''; }

/* Whether t[at:] starts with the `len` bytes of `word`. */
static inline int starts_with(const char *t, Py_ssize_t at, Py_ssize_t size, const char *word,
                              Py_ssize_t len) {
    return size - at >= len && memcmp(t + at, word, len) == 0;
}

/* The index of the lowest bit set in `bits` (not 0): min() of the names they stand for. */
static inline int lowest_bit(uint64_t bits) {
    int index = 0;
    while (!(bits & 1)) {
        bits >>= 1;
        index++;
    }
    return index;
}

/* ---- building the automaton ------------------------------------------------------ */

typedef struct {
    int32_t *next; /* trie edges, states x classes, -1 for none */
    int32_t *word; /* per state: the word ending there, or -1 */
    int32_t states, cap, classes;
} Trie;

static int trie_new_state(Trie *trie) {
    if (trie->states == trie->cap) {
        int32_t cap = trie->cap * 2;
        int32_t *next = PyMem_Realloc(trie->next, (size_t)cap * trie->classes * sizeof(int32_t));
        if (next == NULL) return -1;
        trie->next = next;
        int32_t *word = PyMem_Realloc(trie->word, (size_t)cap * sizeof(int32_t));
        if (word == NULL) return -1;
        trie->word = word;
        trie->cap = cap;
    }
    int32_t state = trie->states++;
    for (int32_t c = 0; c < trie->classes; c++) trie->next[(size_t)state * trie->classes + c] = -1;
    trie->word[state] = -1;
    return state;
}

/* The classic construction: a trie, then breadth first the failure links, which fill the
 * missing edges (a full DFA) and give each state its words, its own first (longest). */
static int build_automaton(Automaton *self, PyObject *words) {
    Py_ssize_t count = PyList_GET_SIZE(words);
    unsigned char class_of[256] = {0};
    int32_t classes = 1; /* class 0: bytes in no word */
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *word = PyTuple_GET_ITEM(PyList_GET_ITEM(words, i), 0);
        const unsigned char *bytes = (const unsigned char *)PyBytes_AS_STRING(word);
        for (Py_ssize_t j = 0; j < PyBytes_GET_SIZE(word); j++) {
            if (class_of[bytes[j]] == 0) {
                if (classes == 255) {
                    PyErr_SetString(PyExc_ValueError, "too many distinct bytes in the words");
                    return -1;
                }
                class_of[bytes[j]] = (unsigned char)classes++;
            }
        }
    }
    for (int b = 0; b < 256; b++) self->byte_class[b] = class_of[ascii_lower((unsigned char)b)];
    int32_t shift = 0;
    while ((1 << shift) < classes) shift++;
    classes = 1 << shift; /* the padding classes are no byte's: their edges are never taken */
    self->classes = classes;
    self->shift = shift;

    Trie trie = {NULL, NULL, 0, 64, classes};
    trie.next = PyMem_Malloc((size_t)trie.cap * classes * sizeof(int32_t));
    trie.word = PyMem_Malloc((size_t)trie.cap * sizeof(int32_t));
    int32_t *fail = NULL, *queue = NULL;
    if (trie.next == NULL || trie.word == NULL || trie_new_state(&trie) < 0) goto no_memory;
    self->word_kind = PyMem_Malloc((size_t)(count ? count : 1));
    self->word_value = PyMem_Malloc((size_t)(count ? count : 1) * sizeof(int32_t));
    if (self->word_kind == NULL || self->word_value == NULL) goto no_memory;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *entry = PyList_GET_ITEM(words, i);
        PyObject *word = PyTuple_GET_ITEM(entry, 0);
        self->word_kind[i] = (unsigned char)PyLong_AsLong(PyTuple_GET_ITEM(entry, 1));
        self->word_value[i] = (int32_t)PyLong_AsLong(PyTuple_GET_ITEM(entry, 2));
        const unsigned char *bytes = (const unsigned char *)PyBytes_AS_STRING(word);
        if (PyBytes_GET_SIZE(word) > self->deepest) self->deepest = (int32_t)PyBytes_GET_SIZE(word);
        int32_t state = 0;
        for (Py_ssize_t j = 0; j < PyBytes_GET_SIZE(word); j++) {
            size_t edge = (size_t)state * classes + class_of[bytes[j]];
            if (trie.next[edge] < 0) {
                int32_t added = trie_new_state(&trie);
                if (added < 0) goto no_memory;
                trie.next[edge] = added;
            }
            state = trie.next[edge];
        }
        trie.word[state] = (int32_t)i;
    }
    if (PyErr_Occurred()) goto fail;

    int32_t states = trie.states;
    fail = PyMem_Malloc((size_t)states * sizeof(int32_t));
    queue = PyMem_Malloc((size_t)states * sizeof(int32_t));
    self->out_start = PyMem_Malloc((size_t)states * sizeof(int32_t));
    self->out_count = PyMem_Malloc((size_t)states * sizeof(int32_t));
    if (fail == NULL || queue == NULL || self->out_start == NULL || self->out_count == NULL)
        goto no_memory;
    int32_t head = 0, tail = 0, outs = 0;
    fail[0] = 0;
    queue[tail++] = 0;
    /* Pass 1, breadth first: failure links and full edges. */
    while (head < tail) {
        int32_t state = queue[head++];
        for (int32_t c = 0; c < classes; c++) {
            size_t edge = (size_t)state * classes + c;
            int32_t child = trie.next[edge];
            if (child >= 0) {
                fail[child] = state == 0 ? 0 : trie.next[(size_t)fail[state] * classes + c];
                queue[tail++] = child;
            } else {
                trie.next[edge] = state == 0 ? 0 : trie.next[(size_t)fail[state] * classes + c];
            }
        }
    }
    /* Pass 2, in the same order: a state's words are its own, then its failure state's. */
    for (int32_t i = 0; i < states; i++) {
        int32_t state = queue[i];
        int32_t own = trie.word[state] >= 0;
        self->out_count[state] = own + (state == 0 ? 0 : self->out_count[fail[state]]);
        outs += self->out_count[state];
    }
    self->outs = PyMem_Malloc((size_t)(outs ? outs : 1) * sizeof(int32_t));
    if (self->outs == NULL) goto no_memory;
    outs = 0;
    for (int32_t i = 0; i < states; i++) {
        int32_t state = queue[i];
        self->out_start[state] = outs;
        if (trie.word[state] >= 0) self->outs[outs++] = trie.word[state];
        if (state != 0) {
            int32_t from = fail[state];
            for (int32_t k = 0; k < self->out_count[from]; k++)
                self->outs[outs++] = self->outs[self->out_start[from] + k];
        }
    }
    if ((int64_t)states << shift > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "too many words for the automaton");
        goto fail;
    }
    /* Each edge as its target's coded row offset (see Automaton). */
    for (size_t edge = 0; edge < (size_t)states * classes; edge++) {
        int32_t target = trie.next[edge];
        int32_t row = target << shift;
        trie.next[edge] = self->out_count[target] ? ~row : row;
    }
    self->delta = trie.next;
    self->states = states;
    PyMem_Free(trie.word);
    PyMem_Free(fail);
    PyMem_Free(queue);
    return 0;

no_memory:
    PyErr_NoMemory();
fail:
    PyMem_Free(trie.next);
    PyMem_Free(trie.word);
    PyMem_Free(fail);
    PyMem_Free(queue);
    return -1;
}

/* ---- reading values (the regexes of activity.py) ---------------------------------- */

typedef struct {
    const unsigned char *text;
    Py_ssize_t size; /* of the whole chunk */
    Py_ssize_t stop; /* the line's end */
    const unsigned char *flags;
} Line;

static inline int has(const Line *line, Py_ssize_t i, unsigned char flag) {
    return (line->flags[line->text[i]] & flag) != 0;
}

static int any_isdigit(const Line *line, Py_ssize_t start, Py_ssize_t end) {
    for (Py_ssize_t i = start; i < end; i++)
        if (has(line, i, C_ISDIGIT)) return 1;
    return 0;
}

static Py_ssize_t skip_spaces(const Line *line, Py_ssize_t i, int most) {
    for (int n = 0; n < most && i < line->stop && has(line, i, C_SPACE); n++) i++;
    return i;
}

/* _KEY_VALUE: ["']?\s{0,3}[:=]\s{0,3}["']?([A-Za-z0-9][\w.:/-]{2,100})
 * Each optional part can only be taken one way (a quote is not a space, a space not a
 * separator), so one left-to-right pass decides it. Returns the value's start or -1. */
static Py_ssize_t key_value(const Line *line, Py_ssize_t i, Py_ssize_t *end) {
    const unsigned char *t = line->text;
    if (i < line->stop && is_quote(t[i])) i++;
    i = skip_spaces(line, i, 3);
    if (!(i < line->stop && (t[i] == ':' || t[i] == '='))) return -1;
    i = skip_spaces(line, i + 1, 3);
    if (i < line->stop && is_quote(t[i])) i++;
    if (!(i < line->stop && ascii_alnum(t[i]))) return -1;
    Py_ssize_t start = i++;
    int n = 0;
    while (n < 100 && i < line->stop &&
           (has(line, i, C_WORD) || t[i] == '.' || t[i] == ':' || t[i] == '/' || t[i] == '-')) {
        i++;
        n++;
    }
    if (n < 2) return -1;
    *end = i;
    return start;
}

/* _PROSE_ORDER: [ #:]+([A-Za-z0-9][\w-]{3,40}) */
static Py_ssize_t prose_order(const Line *line, Py_ssize_t i, Py_ssize_t *end) {
    const unsigned char *t = line->text;
    Py_ssize_t gap = i;
    while (i < line->stop && (t[i] == ' ' || t[i] == '#' || t[i] == ':')) i++;
    if (i == gap || !(i < line->stop && ascii_alnum(t[i]))) return -1;
    Py_ssize_t start = i++;
    int n = 0;
    while (n < 40 && i < line->stop && (has(line, i, C_WORD) || t[i] == '-')) {
        i++;
        n++;
    }
    if (n < 3) return -1;
    *end = i;
    return start;
}

/* Whether `s` (the bytes before a duration's digits) matches ["']?\s{0,3}[:=]?\s{0,3}["']?
 * Short by then (at most 9 bytes), so every way of splitting it is tried. */
static int number_prefix(const Line *line, Py_ssize_t start, Py_ssize_t len) {
    const unsigned char *s = line->text + start;
    for (int q1 = 0; q1 <= 1; q1++)
        for (int w1 = 0; w1 <= 3; w1++)
            for (int sep = 0; sep <= 1; sep++)
                for (int w2 = 0; w2 <= 3; w2++) {
                    int q2 = (int)len - q1 - w1 - sep - w2;
                    if (q2 < 0 || q2 > 1) continue;
                    Py_ssize_t k = 0;
                    int ok = 1;
                    if (q1) ok = is_quote(s[k++]);
                    for (int n = 0; ok && n < w1; n++) ok = has(line, start + k++, C_SPACE);
                    if (ok && sep) ok = s[k] == ':' || s[k] == '=', k++;
                    for (int n = 0; ok && n < w2; n++) ok = has(line, start + k++, C_SPACE);
                    if (ok && q2) ok = is_quote(s[k]);
                    if (ok) return 1;
                }
    return 0;
}

/* A whole number, the usual duration: float() of up to 15 ASCII digits is exact, so it is
 * read here, without a copy and strtod's switches of the rounding mode. 1 when read. */
static int whole_number(const unsigned char *text, Py_ssize_t len, double *value) {
    if (len > 15) return 0;
    int64_t whole = 0;
    for (Py_ssize_t k = 0; k < len; k++) {
        if (text[k] < '0' || text[k] > '9') return 0;
        whole = whole * 10 + (text[k] - '0');
    }
    *value = (double)whole;
    return 1;
}

/* float() of the `len` bytes at `text`: digits, a fraction perhaps. 0, or -1 with an error. */
static int number_value(const unsigned char *text, size_t len, double *value) {
    char small[64];
    char *number = len < sizeof small ? small : PyMem_Malloc(len + 1);
    if (number == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(number, text, len);
    number[len] = '\0';
    *value = PyOS_string_to_double(number, NULL, NULL);
    if (number != small) PyMem_Free(number);
    return *value == -1.0 && PyErr_Occurred() ? -1 : 0;
}

/* _NUMBER: ["']?\s{0,3}[:=]?\s{0,3}["']?(\d+(?:\.\d+)?)(ms|s)?
 * The digits start at the first byte that can be no part of the prefix. Returns 1 and the
 * duration in milliseconds, or 0 for no number. */
static int duration(const Line *line, Py_ssize_t i, int seconds, double most, double *ms) {
    const unsigned char *t = line->text;
    Py_ssize_t digits = i;
    while (digits < line->stop && digits - i <= 9 &&
           (is_quote(t[digits]) || t[digits] == ':' || t[digits] == '=' ||
            has(line, digits, C_SPACE)))
        digits++;
    if (!(digits < line->stop && has(line, digits, C_DIGIT))) return 0;
    if (!number_prefix(line, i, digits - i)) return 0;
    Py_ssize_t end = digits;
    while (end < line->stop && has(line, end, C_DIGIT)) end++;
    int fraction = end + 1 < line->stop && t[end] == '.' && has(line, end + 1, C_DIGIT);
    if (fraction) {
        end++;
        while (end < line->stop && has(line, end, C_DIGIT)) end++;
    }
    if (end + 1 < line->stop && t[end] == 'm' && t[end + 1] == 's')
        seconds = 0;
    else if (end < line->stop && t[end] == 's')
        seconds = 1;
    double value;
    int whole = !fraction && whole_number(t + digits, end - digits, &value);
    if (!whole && number_value(t + digits, (size_t)(end - digits), &value) < 0) return -1;
    value = seconds ? value * 1000 : value;
    if (!(value >= 0 && value < most)) return 0; /* event.plausible_ms() */
    *ms = value;
    return 1;
}

/* ---- one activity line's facts --------------------------------------------------- */

/* An ID's value where the line holds it, and its rank (transaction IDs only). */
typedef struct {
    Py_ssize_t start, end;
    int32_t rank;
} Found;

#define INLINE_FOUND 8

/* The IDs of one kind on a line, in line order, repeats included. They stay spans of the
 * chunk: most lines are only counted in their minute, and making their IDs Python strings
 * (in dicts, as activity.py's _facts does) cost more than the rest of the scan. */
typedef struct {
    Found *items; /* `inline_items` until there are more */
    Py_ssize_t len, cap;
    Found inline_items[INLINE_FOUND];
} FoundIds;

typedef struct {
    FoundIds transactions;
    FoundIds requests;
    int has_duration;
    double duration_ms;
} Facts;

static void facts_init(Facts *facts) {
    facts->transactions.items = facts->transactions.inline_items;
    facts->requests.items = facts->requests.inline_items;
    facts->transactions.len = facts->requests.len = 0;
    facts->transactions.cap = facts->requests.cap = INLINE_FOUND;
    facts->has_duration = 0;
    facts->duration_ms = 0.0;
}

static void found_free(FoundIds *ids) {
    if (ids->items != ids->inline_items) PyMem_Free(ids->items);
}

static void facts_clear(Facts *facts) {
    found_free(&facts->transactions);
    found_free(&facts->requests);
}

static int found_push(FoundIds *ids, Py_ssize_t start, Py_ssize_t end, int32_t rank) {
    if (ids->len == ids->cap) {
        Py_ssize_t cap = ids->cap * 2;
        Found *grown = PyMem_Malloc((size_t)cap * sizeof(Found));
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        memcpy(grown, ids->items, (size_t)ids->len * sizeof(Found));
        found_free(ids);
        ids->items = grown;
        ids->cap = cap;
    }
    ids->items[ids->len++] = (Found){start, end, rank};
    return 0;
}

static PyObject *decode_value(const Line *line, Py_ssize_t start, Py_ssize_t end) {
    return PyUnicode_DecodeUTF8((const char *)line->text + start, end - start, "replace");
}

/* _note_id: the value after a transaction or request key (prose `order 123` needs a digit). */
static int note_id(Scanner *self, Facts *facts, const Line *line, const Read *read) {
    const unsigned char *t = line->text;
    Py_ssize_t end = read->end;
    int prose = end >= 4 && ascii_lower(t[end - 4]) == 'o' && ascii_lower(t[end - 3]) == 'r' &&
                ascii_lower(t[end - 2]) == 'd' && ascii_lower(t[end - 1]) == 'e' &&
                ascii_lower(t[end]) == 'r';
    if (prose && !(end + 1 < line->size &&
                   (t[end + 1] == ' ' || t[end + 1] == '#' || t[end + 1] == ':')))
        return 0; /* `order` inside `order_id`: that key's own hit reads the value */
    Py_ssize_t value_end = 0;
    Py_ssize_t start = prose ? prose_order(line, end + 1, &value_end)
                             : key_value(line, end + 1, &value_end);
    if (start < 0 || (prose && !any_isdigit(line, start, value_end))) return 0;
    (void)self;
    return read->kind == K_REQUEST ? found_push(&facts->requests, start, value_end, 0)
                                   : found_push(&facts->transactions, start, value_end, read->value);
}

/* _note_shape: a Stripe object or request ID, or an Amazon Pay reference, at its prefix. */
static int note_shape(Scanner *self, Facts *facts, const Line *line, const Read *read) {
    const unsigned char *t = line->text;
    Py_ssize_t start = read->end;
    while (start > 0 && (has(line, start - 1, C_ISALNUM) || t[start - 1] == '_' ||
                         t[start - 1] == '-'))
        start--;
    /* _SHAPE_VALUE: [\w-]{8,80} */
    Py_ssize_t end = start;
    while (end - start < 80 && end < line->stop && (has(line, end, C_WORD) || t[end] == '-')) end++;
    if (end - start < 8 || !any_isdigit(line, start, end)) return 0;
    if (end - start >= 4 && memcmp(t + start, "req_", 4) == 0)
        return found_push(&facts->requests, start, end, 0);
    return found_push(&facts->transactions, start, end, (int32_t)self->shape_rank);
}

/* The IDs as the dict of activity.py's _facts: each value decoded, with the rank it was
 * first found with (`ranked`), or None; in line order. NULL with an exception. */
static PyObject *found_dict(const Line *line, const FoundIds *ids, int ranked) {
    PyObject *dict = PyDict_New();
    for (Py_ssize_t i = 0; dict != NULL && i < ids->len; i++) {
        const Found *found = &ids->items[i];
        PyObject *value = decode_value(line, found->start, found->end);
        PyObject *rank = ranked ? PyLong_FromLong(found->rank) : Py_NewRef(Py_None);
        if (value == NULL || rank == NULL || PyDict_SetDefault(dict, value, rank) == NULL)
            Py_CLEAR(dict);
        Py_XDECREF(value);
        Py_XDECREF(rank);
    }
    return dict;
}

/* The transaction IDs, the most order-like (lowest rank) first, ties in line order: a
 * stable sort by rank, counting per rank (ranks are small: a key's place in the list). */
static PyObject *ranked_ids(Scanner *self, PyObject *transactions) {
    Py_ssize_t count = transactions ? PyDict_GET_SIZE(transactions) : 0;
    PyObject *ids = PyTuple_New(count);
    if (ids == NULL || count == 0) return ids;
    PyObject **keys = PyMem_Malloc((size_t)count * sizeof(PyObject *));
    long *ranks = PyMem_Malloc((size_t)count * sizeof(long));
    Py_ssize_t *below = PyMem_Calloc((size_t)self->shape_rank + 2, sizeof(Py_ssize_t));
    if (keys == NULL || ranks == NULL || below == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    Py_ssize_t position = 0, i = 0;
    PyObject *key, *value;
    while (PyDict_Next(transactions, &position, &key, &value)) {
        long rank = PyLong_AsLong(value);
        if (rank < 0 || rank > self->shape_rank) { /* not with ActivityScanner's words */
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "rank out of range");
            goto fail;
        }
        keys[i] = key;
        ranks[i++] = rank;
        below[rank + 1]++;
    }
    for (long rank = 1; rank <= self->shape_rank + 1; rank++) below[rank] += below[rank - 1];
    for (i = 0; i < count; i++) /* below[rank]: where the next ID of that rank goes */
        PyTuple_SET_ITEM(ids, below[ranks[i]]++, Py_NewRef(keys[i]));
    PyMem_Free(keys);
    PyMem_Free(ranks);
    PyMem_Free(below);
    return ids;
fail:
    PyMem_Free(keys);
    PyMem_Free(ranks);
    PyMem_Free(below);
    Py_DECREF(ids); /* its unset items are NULL, which the tuple's dealloc skips */
    return NULL;
}

/* ranked_ids()[0] without the tuple: borrowed, NULL for none. */
static PyObject *first_ranked_id(PyObject *transactions) {
    PyObject *key, *value, *first = NULL;
    Py_ssize_t position = 0;
    long lowest = LONG_MAX;
    while (transactions && PyDict_Next(transactions, &position, &key, &value)) {
        long rank = PyLong_AsLong(value); /* a rank set by note_id or note_shape */
        if (rank < lowest) {
            lowest = rank;
            first = key;
        }
    }
    return first;
}

static PyObject *dict_keys_tuple(PyObject *dict) {
    Py_ssize_t count = dict ? PyDict_GET_SIZE(dict) : 0;
    PyObject *keys = PyTuple_New(count);
    if (keys == NULL) return NULL;
    Py_ssize_t position = 0, i = 0;
    PyObject *key, *value;
    while (dict && PyDict_Next(dict, &position, &key, &value)) {
        Py_INCREF(key);
        PyTuple_SET_ITEM(keys, i++, key);
    }
    return keys;
}

static PyObject *name_of(PyObject *names, uint64_t bits) {
    if (bits == 0) Py_RETURN_NONE;
    int lowest = lowest_bit(bits);
    PyObject *name = PyTuple_GET_ITEM(names, lowest);
    Py_INCREF(name);
    return name;
}

/* An activity line as the scan found it, before its values are read. */
typedef struct {
    Py_ssize_t start;
    Py_ssize_t newlines; /* in the chunk before `start` */
    uint64_t gateways, stages;
    int environment;
} Pending;

/* A line's values, read in line order: activity.py's _facts. */
static int read_facts(Scanner *self, const Line *line, const Reads *reads, Facts *facts) {
    for (Py_ssize_t i = 0; i < reads->len; i++) {
        const Read *read = &reads->items[i];
        int status = 0;
        if (read->kind == K_DURATION) {
            if (!facts->has_duration) {
                status = duration(line, read->end + 1, read->value, self->max_duration_ms,
                                  &facts->duration_ms);
                if (status == 1) facts->has_duration = 1;
            }
        } else if (read->kind == K_SHAPE) {
            status = note_shape(self, facts, line, read);
        } else {
            status = note_id(self, facts, line, read);
        }
        if (status < 0) return -1;
    }
    return 0;
}

enum { F_GATEWAY, F_STAGE, F_ENVIRONMENT, F_DURATION, F_TRANSACTIONS, F_REQUESTS, FIELDS };

static PyObject *duration_of(const Facts *facts) {
    return facts->has_duration ? PyFloat_FromDouble(facts->duration_ms) : Py_NewRef(Py_None);
}

/* New references to a line's gateway, stage, environment, duration_ms, transaction IDs
 * and request IDs, from what read_facts() found; -1 and none of them on an error. */
static int line_fields(Scanner *self, const Line *line, const Pending *pending,
                       const Facts *facts, PyObject *fields[FIELDS]) {
    fields[F_GATEWAY] = name_of(self->gateways, pending->gateways);
    fields[F_STAGE] = name_of(self->stages, pending->stages);
    fields[F_ENVIRONMENT] =
        pending->environment < 0
            ? Py_NewRef(Py_None)
            : Py_NewRef(PyTuple_GET_ITEM(self->environments, pending->environment));
    fields[F_DURATION] = duration_of(facts);
    PyObject *transactions = found_dict(line, &facts->transactions, 1);
    PyObject *requests = found_dict(line, &facts->requests, 0);
    fields[F_TRANSACTIONS] = transactions ? ranked_ids(self, transactions) : NULL;
    fields[F_REQUESTS] = requests ? dict_keys_tuple(requests) : NULL;
    Py_XDECREF(transactions);
    Py_XDECREF(requests);
    for (int k = 0; k < FIELDS; k++) {
        if (fields[k] == NULL) {
            for (int j = 0; j < FIELDS; j++) Py_CLEAR(fields[j]);
            return -1;
        }
    }
    return 0;
}

/* ---- the scan -------------------------------------------------------------------- */

/* What is done with each activity line: 0, or -1 with an exception. */
typedef int (*Sink)(Scanner *self, void *context, const Line *line, const Pending *pending,
                    const Reads *reads);

/* One pass over the chunk: every line with a gateway marker or lifecycle word goes to
 * `sink`, in order. activity.py's scan_facts(). */
static int scan_lines(Scanner *self, const unsigned char *text, Py_ssize_t size, Sink sink,
                      void *context) {
    Reads reads = {NULL, 0, 0};
    Line line = {text, size, -1, self->flags};
    Pending pending = {0, 0, 0, 0, -1};
    Py_ssize_t counted_to = 0, newlines = 0;
    const Automaton *automaton = &self->automaton;
    Hits hits = {NULL, 0, 0};
    if (find_hits(automaton, text, size, &hits) < 0) goto fail;
    for (Py_ssize_t h = 0; h < hits.len; h++) {
        Py_ssize_t i = hits.items[h].at;
        int32_t state = hits.items[h].state;
        int32_t count = automaton->out_count[state];
        if (i > line.stop) { /* the first hit on a new line: the last one is complete */
            if ((pending.gateways || pending.stages) &&
                sink(self, context, &line, &pending, &reads) < 0)
                goto fail;
            Py_ssize_t start = line_start(text, line.stop, i);
            newlines += newlines_in(text, counted_to, start);
            counted_to = start;
            pending = (Pending){start, newlines, 0, 0, -1};
            reads.len = 0;
            const unsigned char *newline = memchr(text + i, '\n', (size_t)(size - i));
            line.stop = newline ? newline - text : size;
        }
        const int32_t *words = automaton->outs + automaton->out_start[state];
        for (int32_t k = 0; k < count; k++) {
            int32_t word = words[k];
            int32_t value = automaton->word_value[word];
            unsigned char kind = automaton->word_kind[word];
            switch (kind) {
            case K_GATEWAY:
                pending.gateways |= (uint64_t)1 << value;
                break;
            case K_STAGE:
                pending.stages |= (uint64_t)1 << value;
                break;
            case K_ENVIRONMENT:
                if (pending.environment < 0) pending.environment = value;
                break;
            default:
                if (reads_push(&reads, kind, value, i) < 0) goto fail;
            }
        }
    }
    if ((pending.gateways || pending.stages) && sink(self, context, &line, &pending, &reads) < 0)
        goto fail;
    hits_free(&hits);
    PyMem_Free(reads.items);
    return 0;
fail:
    hits_free(&hits);
    PyMem_Free(reads.items);
    return -1;
}

/* scan(): a (start, gateway, stage, environment, duration_ms, transaction_ids,
 * request_ids) tuple per line. */
static int append_line(Scanner *self, void *context, const Line *line, const Pending *pending,
                       const Reads *reads) {
    PyObject *fields[FIELDS];
    Facts facts;
    facts_init(&facts);
    int read = read_facts(self, line, reads, &facts);
    if (read == 0) read = line_fields(self, line, pending, &facts, fields);
    facts_clear(&facts);
    if (read < 0) return -1;
    PyObject *tuple = PyTuple_New(FIELDS + 1);
    PyObject *start = PyLong_FromSsize_t(pending->start);
    if (tuple == NULL || start == NULL) {
        Py_XDECREF(tuple);
        Py_XDECREF(start);
        for (int k = 0; k < FIELDS; k++) Py_DECREF(fields[k]);
        return -1;
    }
    PyTuple_SET_ITEM(tuple, 0, start);
    for (int k = 0; k < FIELDS; k++) PyTuple_SET_ITEM(tuple, k + 1, fields[k]);
    int status = PyList_Append((PyObject *)context, tuple);
    Py_DECREF(tuple);
    return status;
}

static PyObject *Scanner_scan(Scanner *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    PyObject *lines = PyList_New(0);
    if (lines != NULL && scan_lines(self, view.buf, view.len, append_line, lines) < 0)
        Py_CLEAR(lines);
    PyBuffer_Release(&view);
    return lines;
}

/* ---- line times (timestamps.py's line_time, ISO 8601 read here) ------------------- */

typedef struct {
    int known;
    long long minute; /* series.minute_key() */
    long long micro;  /* into the minute */
} Moment;

static inline int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static inline int two_digits(const unsigned char *t) { return (t[0] - '0') * 10 + (t[1] - '0'); }

/* The latin-1 whitespace of _ISO_BYTES's [\t-\r\x1c- \x85\xa0]. */
static inline int iso_space(unsigned char c) {
    return (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= ' ') || c == 0x85 || c == 0xa0;
}

typedef struct {
    Py_ssize_t at;                  /* the date */
    Py_ssize_t fraction, fraction_end; /* fraction == 0: none */
    Py_ssize_t zone, zone_end;      /* zone == 0: none */
} Iso;

/* _ISO_BYTES matched at `p`, ending by `end`:
 * (\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:[.,](\d{1,9}))?\s?(Z|[+-]\d\d:?\d\d|UTC)?
 * Everything after the seconds is optional and decided by its first byte, so one pass. */
static int iso_at(const unsigned char *t, Py_ssize_t p, Py_ssize_t end, Iso *iso) {
    static const char shape[] = "dddd-dd-dd?dd:dd:dd";
    if (p + 19 > end) return 0;
    for (int k = 0; k < 19; k++) {
        unsigned char c = t[p + k];
        if (shape[k] == 'd' ? !is_digit(c) : shape[k] == '?' ? (c != 'T' && c != ' ') : c != shape[k])
            return 0;
    }
    Py_ssize_t i = p + 19;
    *iso = (Iso){p, 0, 0, 0, 0};
    if (i + 1 < end && (t[i] == '.' || t[i] == ',') && is_digit(t[i + 1])) {
        iso->fraction = i + 1;
        i++;
        while (i < end && i - iso->fraction < 9 && is_digit(t[i])) i++;
        iso->fraction_end = i;
    }
    if (i < end && iso_space(t[i])) i++;
    if (i < end && t[i] == 'Z') {
        iso->zone = i, iso->zone_end = i + 1;
    } else if (i < end && (t[i] == '+' || t[i] == '-') && i + 2 < end && is_digit(t[i + 1]) &&
               is_digit(t[i + 2])) {
        Py_ssize_t k = i + 3;
        if (k < end && t[k] == ':') k++;
        if (k + 2 <= end && is_digit(t[k]) && is_digit(t[k + 1])) iso->zone = i, iso->zone_end = k + 2;
    } else if (i + 3 <= end && memcmp(t + i, "UTC", 3) == 0) {
        iso->zone = i, iso->zone_end = i + 3;
    }
    return 1;
}

/* The first ISO time of t[start:end] (_ISO_BYTES.search): 1 with `iso`, its seconds and
 * its microseconds (the fraction's first six digits); 0 for none. */
static int iso_search(const unsigned char *t, Py_ssize_t start, Py_ssize_t end, Iso *iso,
                      int *seconds, int *micro) {
    for (Py_ssize_t p = start; p + 19 <= end; p++) {
        if (!iso_at(t, p, end, iso)) continue;
        *seconds = two_digits(t + p + 17);
        *micro = 0;
        for (Py_ssize_t k = 0; k < 6; k++) {
            Py_ssize_t at = iso->fraction + k;
            *micro = *micro * 10 + (iso->fraction && at < iso->fraction_end ? t[at] - '0' : 0);
        }
        return 1;
    }
    return 0;
}

/* What a minute is asked by: the date, hour:minute and zone of the ISO time `iso` in `t`,
 * written to `key` (the zone from byte 15); its length. */
#define MINUTE_KEY_SIZE 32
static Py_ssize_t minute_question(const unsigned char *t, const Iso *iso, unsigned char *key) {
    Py_ssize_t zone_len = iso->zone ? iso->zone_end - iso->zone : 0;
    memcpy(key, t + iso->at, 10);
    memcpy(key + 10, t + iso->at + 11, 5);
    memcpy(key + 15, t + iso->zone, (size_t)zone_len);
    return 15 + zone_len;
}

/* ---- a record's ISO 8601 time (timestamps.py's iso_in_python, for ASCII text) ----- */

/* find_timestamp() reads the first ISO 8601 time in a record's first 80 characters; in
 * Python the regex and a datetime built from its groups cost about 1.5 microseconds, on
 * every error record. Here iso_at() finds it and the datetime is made at once. The UTC
 * minute of a date, hour and minute in a zone is asked of Python's iso_minute() (which
 * knows the calendar and the zones), once for each minute not asked just before. */
typedef struct {
    PyObject *minute_of;   /* the function asked (a strong reference) */
    unsigned char key[MINUTE_KEY_SIZE]; /* as minute_question() writes it */
    Py_ssize_t key_len;    /* 0: nothing asked yet */
    int known, fields[5];  /* the UTC minute: year, month, day, hour, minute */
} LastMinute;

static LastMinute last_minute;

/* The UTC minute of the ISO time `iso` in `t`, asked of `minute_of` unless it was last
 * time: 1 with its fields, 0 for no real time, -1 with an exception. */
static int utc_minute(PyObject *minute_of, const unsigned char *t, const Iso *iso, int fields[5]) {
    LastMinute *last = &last_minute;
    unsigned char key[MINUTE_KEY_SIZE];
    Py_ssize_t key_len = minute_question(t, iso, key), zone_len = key_len - 15;
    if (minute_of != last->minute_of || key_len != last->key_len ||
        memcmp(key, last->key, (size_t)key_len) != 0) {
        Py_XSETREF(last->minute_of, Py_NewRef(minute_of));
        PyObject *found = PyObject_CallFunction(minute_of, "s#s#s#", key, (Py_ssize_t)10,
                                                key + 10, (Py_ssize_t)5,
                                                zone_len ? (const char *)key + 15 : NULL, zone_len);
        if (found == NULL) return -1;
        int known = found != Py_None;
        if (known && !PyArg_ParseTuple(found, "iiiii;iso_time: minute_of() must give 5 ints",
                                       &last->fields[0], &last->fields[1], &last->fields[2],
                                       &last->fields[3], &last->fields[4])) {
            Py_DECREF(found);
            last->key_len = 0;
            return -1;
        }
        Py_DECREF(found);
        memcpy(last->key, key, (size_t)key_len);
        last->key_len = key_len;
        last->known = known;
    }
    memcpy(fields, last->fields, sizeof last->fields);
    return last->known;
}

/* iso_time(head, minute_of): see _speedups.pyi. */
static PyObject *iso_time(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 2 || !PyUnicode_Check(args[0]) || !PyUnicode_IS_ASCII(args[0])) {
        PyErr_SetString(PyExc_TypeError, "iso_time(head: ASCII str, minute_of)");
        return NULL;
    }
    const unsigned char *t = PyUnicode_1BYTE_DATA(args[0]);
    Py_ssize_t end = PyUnicode_GET_LENGTH(args[0]);
    end = end < 80 ? end : 80;
    Iso iso;
    int seconds, micro, fields[5];
    if (!iso_search(t, 0, end, &iso, &seconds, &micro)) Py_RETURN_FALSE;
    if (seconds > 59) Py_RETURN_NONE; /* a leap second, which datetime cannot hold */
    int known = utc_minute(args[1], t, &iso, fields);
    if (known <= 0) return known < 0 ? NULL : Py_NewRef(Py_None);
    return PyDateTimeAPI->DateTime_FromDateAndTime(fields[0], fields[1], fields[2], fields[3],
                                                    fields[4], seconds, micro,
                                                    PyDateTime_TimeZone_UTC,
                                                    PyDateTimeAPI->DateTimeType);
}

/* ---- batch(): the columns of incidents' ActivityBatch ------------------------------ */

enum {
    COL_OFFSETS,
    COL_LINES,
    COL_MINUTES,
    COL_MICROS,
    COL_GATEWAYS,
    COL_STAGES,
    COL_DURATIONS,
    COL_ENVIRONMENTS,
    COL_TRANSACTIONS,
    COL_REQUESTS,
    COL_ID_HASHES,
    COLUMNS
};

/* CRC-32 (zlib's, of series.id_hash) by the byte-at-a-time table, made on first use. */
static uint32_t crc_table[256];

static uint32_t crc32_of(const char *bytes, Py_ssize_t size) {
    if (crc_table[1] == 0) {
        for (uint32_t n = 0; n < 256; n++) {
            uint32_t c = n;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            crc_table[n] = c;
        }
    }
    uint32_t crc = 0xFFFFFFFFu;
    for (Py_ssize_t i = 0; i < size; i++)
        crc = crc_table[(crc ^ (unsigned char)bytes[i]) & 0xFF] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

/* series.id_hash() of a transaction ID: 0, or -1 with an exception. */
static int id_hash(PyObject *id, uint32_t *hash) {
    Py_ssize_t size;
    const char *utf8 = PyUnicode_AsUTF8AndSize(id, &size);
    if (utf8 == NULL) return -1;
    *hash = crc32_of(utf8, size);
    return 0;
}

/* MinuteActivity. */
typedef struct {
    int gateway; /* index, -1 for none */
    long long minute, calls, first, last, captures;
    long long timed, total_us;         /* the calls with a duration, and its sum */
    int32_t *buckets;                  /* their bucket_of() counts, from the lowest; NULL for none */
    long long timed_first, timed_last; /* of the timed calls */
} Group;

/* RowsWanted: which lines get a row (every line counts in its group). */
typedef struct {
    int every;            /* every line: no RowsWanted given */
    long long order_mask; /* -1 for no order's rows */
    double slow_ms;       /* infinity for none */
    int environments;
} Wanted;

typedef struct {
    PyObject *chunk;
    PyObject *columns[COLUMNS];
    Py_ssize_t *skips; /* (start, end) of each error record, in order */
    Py_ssize_t skip_count, skip_at;
    int only_gateway; /* ALL_GATEWAYS, or the one gateway index kept */
    Moment since, until, last;
    long long first_line;
    PyObject *minute_of, *time_of;
    unsigned char key[MINUTE_KEY_SIZE]; /* the ISO minute last asked of minute_of, and its answer */
    Py_ssize_t key_len;
    Moment key_minute;
    Group *groups;
    Py_ssize_t group_count, group_cap;
    PyObject *group_index;             /* (gateway index, minute) -> group number */
    Py_ssize_t recent[MAX_BITS + 1];    /* per gateway (0: none): its latest group, or -1 */
    int captured;                       /* the stage index of "captured" */
    Wanted wanted;
} Batch;

#define ALL_GATEWAYS (-2)
#define UNKNOWN_GATEWAY (-3)

static int moment_from(PyObject *value, Moment *moment, const char *what) {
    if (value == Py_None) {
        *moment = (Moment){0, 0, 0};
        return 0;
    }
    if (!PyArg_ParseTuple(value, "LL", &moment->minute, &moment->micro)) {
        PyErr_Format(PyExc_TypeError, "%s: None or (minute, micro)", what);
        return -1;
    }
    moment->known = 1;
    return 0;
}

static inline int earlier(const Moment *a, const Moment *b) {
    return a->minute < b->minute || (a->minute == b->minute && a->micro < b->micro);
}

/* The minute of an ISO time, asked of minute_of (timestamps.iso_minute_key) once per run
 * of lines in the same minute. */
static int iso_minute(Batch *batch, const unsigned char *t, const Iso *iso, Moment *minute) {
    unsigned char key[MINUTE_KEY_SIZE];
    Py_ssize_t key_len = minute_question(t, iso, key), zone_len = key_len - 15;
    if (key_len == batch->key_len && memcmp(key, batch->key, (size_t)key_len) == 0) {
        *minute = batch->key_minute;
        return 0;
    }
    PyObject *zone = zone_len ? PyUnicode_DecodeLatin1((const char *)key + 15, zone_len, NULL)
                              : Py_NewRef(Py_None);
    PyObject *found = zone == NULL ? NULL
                                   : PyObject_CallFunction(batch->minute_of, "s#s#O", key,
                                                           (Py_ssize_t)10, key + 10,
                                                           (Py_ssize_t)5, zone);
    Py_XDECREF(zone);
    if (found == NULL) return -1;
    Moment answer = {0, 0, 0};
    if (found != Py_None) {
        answer.minute = PyLong_AsLongLong(found);
        answer.known = 1;
    }
    Py_DECREF(found);
    if (answer.known && answer.minute == -1 && PyErr_Occurred()) return -1;
    memcpy(batch->key, key, (size_t)key_len);
    batch->key_len = key_len;
    batch->key_minute = answer;
    *minute = answer;
    return 0;
}

/* The line's own time, known = 0 for none: line_time(). */
static int line_moment(Batch *batch, const Line *line, Py_ssize_t start, Moment *moment) {
    const unsigned char *t = line->text;
    Py_ssize_t end = start + 80 < line->size ? start + 80 : line->size;
    Iso iso;
    int seconds, micro;
    *moment = (Moment){0, 0, 0};
    if (iso_search(t, start, end, &iso, &seconds, &micro)) {
        if (seconds > 59) return 0; /* a leap second, which datetime cannot hold */
        Moment minute;
        if (iso_minute(batch, t, &iso, &minute) < 0) return -1;
        if (!minute.known) return 0;
        *moment = (Moment){1, minute.minute, seconds * 1000000LL + micro};
        return 0;
    }
    /* Not ISO 8601: Apache, syslog or epoch times, read by Python. */
    PyObject *found = PyObject_CallFunction(batch->time_of, "n", start);
    if (found == NULL) return -1;
    int status = moment_from(found, moment, "time_of()");
    Py_DECREF(found);
    return status;
}

/* MinuteActivity.count(), with the duration the line's facts hold, if any. */
static int count_in_group(const Scanner *self, Batch *batch, int gateway, const Moment *when,
                          int captured, const Facts *facts) {
    Py_ssize_t *recent = &batch->recent[gateway + 1];
    if (*recent < 0 || batch->groups[*recent].minute != when->minute) {
        PyObject *key = Py_BuildValue("(iL)", gateway, when->minute);
        if (key == NULL) return -1;
        PyObject *found = PyDict_GetItemWithError(batch->group_index, key);
        if (found != NULL) {
            *recent = PyLong_AsSsize_t(found);
        } else if (PyErr_Occurred()) {
            Py_DECREF(key);
            return -1;
        } else {
            if (batch->group_count == batch->group_cap) {
                Py_ssize_t cap = batch->group_cap ? batch->group_cap * 2 : 16;
                Group *grown = PyMem_Realloc(batch->groups, (size_t)cap * sizeof(Group));
                if (grown == NULL) {
                    Py_DECREF(key);
                    PyErr_NoMemory();
                    return -1;
                }
                batch->groups = grown;
                batch->group_cap = cap;
            }
            Group *group = &batch->groups[batch->group_count];
            *group = (Group){gateway, when->minute, 0, when->micro, -1, 0, 0, 0, NULL, -1, -1};
            batch->group_count++;
            PyObject *number = PyLong_FromSsize_t(batch->group_count - 1);
            int status = number == NULL ? -1 : PyDict_SetItem(batch->group_index, key, number);
            Py_XDECREF(number);
            if (status < 0) {
                Py_DECREF(key);
                return -1;
            }
            *recent = batch->group_count - 1;
        }
        Py_DECREF(key);
    }
    Group *group = &batch->groups[*recent];
    group->calls++;
    if (when->micro < group->first) group->first = when->micro;
    if (when->micro > group->last) group->last = when->micro;
    if (captured) group->captures++;
    if (!facts->has_duration) return 0;
    group->timed++;
    group->total_us += (long long)nearbyint(facts->duration_ms * 1000); /* Python's round() */
    if (group->timed_first < 0 || when->micro < group->timed_first)
        group->timed_first = when->micro;
    if (when->micro > group->timed_last) group->timed_last = when->micro;
    int32_t index = bucket_of(self, facts->duration_ms) - self->lowest_bucket;
    if (index < 0 || index >= self->bucket_count) { /* durations are below the maximum */
        PyErr_SetString(PyExc_SystemError, "a duration out of the bucket range");
        return -1;
    }
    if (group->buckets == NULL &&
        (group->buckets = PyMem_Calloc((size_t)self->bucket_count, sizeof(int32_t))) == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    group->buckets[index]++;
    return 0;
}

/* Whether each of `ids` is ASCII, so its own UTF-8, equal to another exactly when their
 * bytes are. */
static int found_ascii(const Line *line, const FoundIds *ids) {
    for (Py_ssize_t i = 0; i < ids->len; i++)
        for (Py_ssize_t at = ids->items[i].start; at < ids->items[i].end; at++)
            if (line->text[at] >= 0x80) return 0;
    return 1;
}

/* Whether ids[i] repeats an earlier one: a value keeps the rank it was first found with. */
static int found_before(const Line *line, const FoundIds *ids, Py_ssize_t i) {
    const Found *found = &ids->items[i];
    Py_ssize_t size = found->end - found->start;
    for (Py_ssize_t j = 0; j < i; j++) {
        const Found *earlier = &ids->items[j];
        if (earlier->end - earlier->start == size &&
            memcmp(line->text + earlier->start, line->text + found->start, (size_t)size) == 0)
            return 1;
    }
    return 0;
}

/* id_hash() of the line's order, ranked_ids()[0] of its transaction IDs `ids`: 1 and
 * `*hash`, 0 for no order, -1 with an exception. Read off the bytes, without making the
 * IDs Python strings, where they are ASCII. */
static int order_hash(const Line *line, const FoundIds *ids, uint32_t *hash) {
    if (ids->len == 0) return 0;
    if (!found_ascii(line, ids)) { /* decoding decides which values are equal */
        PyObject *dict = found_dict(line, ids, 1);
        if (dict == NULL) return -1;
        PyObject *order = first_ranked_id(dict);
        int status = order == NULL ? 0 : id_hash(order, hash) < 0 ? -1 : 1;
        Py_DECREF(dict);
        return status;
    }
    const Found *order = NULL; /* the lowest rank, the first found among equals */
    for (Py_ssize_t i = 0; i < ids->len; i++) {
        const Found *found = &ids->items[i];
        if ((order == NULL || found->rank < order->rank) && !found_before(line, ids, i))
            order = found;
    }
    *hash = crc32_of((const char *)line->text + order->start, order->end - order->start);
    return 1;
}

/* RowsWanted.wants(): `hash` is id_hash() of the line's order, if `has_order`. */
static int wants_row(const Wanted *wanted, const Pending *pending, const Facts *facts,
                     int has_order, uint32_t hash) {
    return wanted->every || (wanted->environments && pending->environment >= 0) ||
           (facts->has_duration && facts->duration_ms >= wanted->slow_ms) ||
           (has_order && wanted->order_mask >= 0 && (hash & (uint64_t)wanted->order_mask) == 0);
}

static int append_new(PyObject *list, PyObject *value) {
    if (value == NULL) return -1;
    int status = PyList_Append(list, value);
    Py_DECREF(value);
    return status;
}

/* One row, unless the line is inside an error record, of another gateway, before any time
 * or outside the window: analysis.py's _activity(). */
static int add_row(Scanner *self, void *context, const Line *line, const Pending *pending,
                   const Reads *reads) {
    Batch *batch = context;
    Py_ssize_t start = pending->start;
    while (batch->skip_at < batch->skip_count && batch->skips[2 * batch->skip_at + 1] < start)
        batch->skip_at++;
    if (batch->skip_at < batch->skip_count && batch->skips[2 * batch->skip_at] <= start)
        return 0; /* part of an error record, observed as an error */
    int gateway = pending->gateways ? lowest_bit(pending->gateways) : -1;
    if (batch->only_gateway != ALL_GATEWAYS && gateway != batch->only_gateway) return 0;
    Moment own;
    if (line_moment(batch, line, start, &own) < 0) return -1;
    if (own.known) batch->last = own;
    const Moment *when = &batch->last;
    if (!when->known || (batch->since.known && earlier(when, &batch->since)) ||
        (batch->until.known && earlier(&batch->until, when)))
        return 0;
    Facts facts;
    facts_init(&facts);
    int captured = pending->stages && lowest_bit(pending->stages) == batch->captured;
    int status = read_facts(self, line, reads, &facts);
    /* The order's hash, once: it decides the row and fills its id_hashes cell. */
    uint32_t hash = 0;
    int has_order = status < 0 ? -1 : order_hash(line, &facts.transactions, &hash);
    int wanted = has_order < 0 ? -1 : wants_row(&batch->wanted, pending, &facts, has_order, hash);
    if (wanted == 0) { /* counted in its minute only */
        status = count_in_group(self, batch, gateway, when, captured, &facts);
        facts_clear(&facts);
        return status;
    }
    PyObject *fields[FIELDS];
    if (wanted < 0 || line_fields(self, line, pending, &facts, fields) < 0) {
        facts_clear(&facts);
        return -1;
    }
    status = count_in_group(self, batch, gateway, when, captured, &facts);
    facts_clear(&facts);
    PyObject **columns = batch->columns;
    PyObject *ids = fields[F_TRANSACTIONS]; /* ranked: the order first */
    if (status == 0)
        status = append_new(columns[COL_OFFSETS], PyLong_FromSsize_t(start)) < 0 ||
                         append_new(columns[COL_LINES],
                                    PyLong_FromLongLong(batch->first_line + pending->newlines)) < 0 ||
                         append_new(columns[COL_MINUTES], PyLong_FromLongLong(when->minute)) < 0 ||
                         append_new(columns[COL_MICROS], PyLong_FromLongLong(when->micro)) < 0 ||
                         PyList_Append(columns[COL_GATEWAYS], fields[F_GATEWAY]) < 0 ||
                         PyList_Append(columns[COL_STAGES], fields[F_STAGE]) < 0 ||
                         PyList_Append(columns[COL_DURATIONS], fields[F_DURATION]) < 0 ||
                         PyList_Append(columns[COL_ENVIRONMENTS], fields[F_ENVIRONMENT]) < 0 ||
                         PyList_Append(columns[COL_TRANSACTIONS], ids) < 0 ||
                         PyList_Append(columns[COL_REQUESTS], fields[F_REQUESTS]) < 0 ||
                         append_new(columns[COL_ID_HASHES], PyLong_FromUnsignedLong(hash)) < 0
                     ? -1
                     : 0;
    for (int k = 0; k < FIELDS; k++) Py_DECREF(fields[k]);
    return status;
}

/* A group's bucket counts as MinuteActivity.buckets: {bucket: calls}, in bucket order. */
static PyObject *bucket_dict(const Scanner *self, const Group *group) {
    PyObject *buckets = PyDict_New();
    for (int32_t k = 0; buckets != NULL && group->buckets != NULL && k < self->bucket_count; k++) {
        if (group->buckets[k] == 0) continue;
        PyObject *bucket = PyLong_FromLong(self->lowest_bucket + k);
        PyObject *calls = PyLong_FromLong(group->buckets[k]);
        if (bucket == NULL || calls == NULL || PyDict_SetItem(buckets, bucket, calls) < 0)
            Py_CLEAR(buckets);
        Py_XDECREF(bucket);
        Py_XDECREF(calls);
    }
    return buckets;
}

static PyObject *groups_list(Scanner *self, Batch *batch) {
    PyObject *groups = PyList_New(batch->group_count);
    if (groups == NULL) return NULL;
    for (Py_ssize_t i = 0; i < batch->group_count; i++) {
        Group *group = &batch->groups[i];
        PyObject *gateway = group->gateway < 0 ? Py_NewRef(Py_None)
                                               : name_of(self->gateways, (uint64_t)1 << group->gateway);
        PyObject *buckets = gateway == NULL ? NULL : bucket_dict(self, group);
        PyObject *item = buckets == NULL ? NULL
                                         : Py_BuildValue("(NLLLLLLLNLL)", gateway, group->minute,
                                                         group->calls, group->first, group->last,
                                                         group->captures, group->timed,
                                                         group->total_us, buckets,
                                                         group->timed_first, group->timed_last);
        if (buckets == NULL) Py_XDECREF(gateway);
        if (item == NULL) {
            Py_DECREF(groups);
            return NULL;
        }
        PyList_SET_ITEM(groups, i, item);
    }
    return groups;
}

static int batch_skips(Batch *batch, PyObject *skips) {
    PyObject *sequence = PySequence_Fast(skips, "skips: a list of (start, end)");
    if (sequence == NULL) return -1;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(sequence);
    batch->skips = PyMem_Malloc((size_t)(count ? count : 1) * 2 * sizeof(Py_ssize_t));
    if (batch->skips == NULL) {
        Py_DECREF(sequence);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(sequence, i);
        if (!PyArg_ParseTuple(item, "nn", &batch->skips[2 * i], &batch->skips[2 * i + 1])) {
            Py_DECREF(sequence);
            return -1;
        }
    }
    batch->skip_count = count;
    Py_DECREF(sequence);
    return 0;
}

static void batch_clear(Batch *batch) {
    for (int k = 0; k < COLUMNS; k++) Py_CLEAR(batch->columns[k]);
    for (Py_ssize_t i = 0; i < batch->group_count; i++) PyMem_Free(batch->groups[i].buckets);
    PyMem_Free(batch->groups);
    PyMem_Free(batch->skips);
    Py_XDECREF(batch->group_index);
}

static PyObject *Scanner_batch(Scanner *self, PyObject *args, PyObject *kwds) {
    static char *keywords[] = {"chunk", "first_line", "skips",   "gateway", "since", "until",
                               "last",  "minute_of",  "time_of", "rows",    NULL};
    Py_buffer view;
    PyObject *skips, *gateway, *since, *until, *last, *minute_of, *time_of, *rows;
    long long first_line;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*LOOOOOOOO", keywords, &view, &first_line,
                                     &skips, &gateway, &since, &until, &last, &minute_of,
                                     &time_of, &rows))
        return NULL;
    Batch batch;
    memset(&batch, 0, sizeof batch);
    batch.first_line = first_line;
    batch.minute_of = minute_of;
    batch.time_of = time_of;
    batch.key_len = -1;
    batch.captured = self->captured;
    batch.only_gateway = ALL_GATEWAYS;
    batch.wanted.every = rows == Py_None;
    for (int k = 0; k <= MAX_BITS; k++) batch.recent[k] = -1;
    PyObject *result = NULL;
    if (rows != Py_None &&
        !PyArg_ParseTuple(rows, "Ldp;rows: None or (order mask, slow_ms, environments)",
                          &batch.wanted.order_mask, &batch.wanted.slow_ms,
                          &batch.wanted.environments))
        goto done;
    if (gateway != Py_None) {
        Py_ssize_t index = PySequence_Index(self->gateways, gateway);
        if (index < 0) {
            PyErr_Clear();
            index = UNKNOWN_GATEWAY; /* a gateway no line names: no row is kept */
        }
        batch.only_gateway = (int)index;
    }
    if (moment_from(since, &batch.since, "since") < 0 ||
        moment_from(until, &batch.until, "until") < 0 || moment_from(last, &batch.last, "last") < 0 ||
        batch_skips(&batch, skips) < 0 || (batch.group_index = PyDict_New()) == NULL)
        goto done;
    for (int k = 0; k < COLUMNS; k++)
        if ((batch.columns[k] = PyList_New(0)) == NULL) goto done;
    if (scan_lines(self, view.buf, view.len, add_row, &batch) < 0) goto done;
    PyObject *columns = PyTuple_New(COLUMNS);
    PyObject *groups = groups_list(self, &batch);
    if (columns == NULL || groups == NULL) {
        Py_XDECREF(columns);
        Py_XDECREF(groups);
        goto done;
    }
    for (int k = 0; k < COLUMNS; k++) PyTuple_SET_ITEM(columns, k, Py_NewRef(batch.columns[k]));
    result = Py_BuildValue("(NN)", columns, groups);
done:
    batch_clear(&batch);
    PyBuffer_Release(&view);
    return result;
}

/* ---- the type -------------------------------------------------------------------- */

static int check_names(PyObject *names, const char *what) {
    if (!PyTuple_Check(names) || PyTuple_GET_SIZE(names) > MAX_BITS) {
        PyErr_Format(PyExc_ValueError, "%s: a tuple of at most %d names", what, MAX_BITS);
        return -1;
    }
    return 0;
}

/* Whether `words` is a list of (non-empty bytes, kind, value), as build_automaton takes. */
static int words_list(PyObject *words) {
    if (!PyList_Check(words)) {
        PyErr_SetString(PyExc_TypeError, "words: a list of (bytes, kind, value)");
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(words); i++) {
        PyObject *entry = PyList_GET_ITEM(words, i);
        if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 3 ||
            !PyBytes_Check(PyTuple_GET_ITEM(entry, 0)) ||
            PyBytes_GET_SIZE(PyTuple_GET_ITEM(entry, 0)) == 0 ||
            !PyLong_Check(PyTuple_GET_ITEM(entry, 1)) || !PyLong_Check(PyTuple_GET_ITEM(entry, 2))) {
            PyErr_SetString(PyExc_TypeError, "words: a list of (non-empty bytes, kind, value)");
            return -1;
        }
    }
    return 0;
}

/* The kind and value of words[i] (words_list() checked); -1 with an exception on overflow. */
static int word_at(PyObject *words, Py_ssize_t i, long *kind, long *value) {
    PyObject *entry = PyList_GET_ITEM(words, i);
    *kind = PyLong_AsLong(PyTuple_GET_ITEM(entry, 1));
    *value = PyLong_AsLong(PyTuple_GET_ITEM(entry, 2));
    return PyErr_Occurred() ? -1 : 0;
}

static int check_words(PyObject *words, Py_ssize_t gateways, Py_ssize_t stages,
                       Py_ssize_t environments, long shape_rank) {
    if (words_list(words) < 0) return -1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(words); i++) {
        long kind, value;
        if (word_at(words, i, &kind, &value) < 0) return -1;
        long limit = kind == K_GATEWAY       ? (long)gateways
                     : kind == K_STAGE       ? (long)stages
                     : kind == K_ENVIRONMENT ? (long)environments
                     : kind == K_TRANSACTION ? shape_rank /* ranks come before shapes' */
                                             : INT32_MAX;
        if (kind < K_GATEWAY || kind > K_DURATION || value < 0 || value >= limit) {
            PyErr_Format(PyExc_ValueError, "words[%zd]: kind %ld or value %ld out of range", i,
                         kind, value);
            return -1;
        }
    }
    return 0;
}

static int Scanner_init(Scanner *self, PyObject *args, PyObject *kwds) {
    static char *keywords[] = {"words",      "gateways",        "stages",  "environments", "flags",
                               "shape_rank", "max_duration_ms", "buckets", NULL};
    PyObject *words, *gateways, *stages, *environments;
    Py_buffer flags;
    long shape_rank;
    if (self->automaton.delta != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "ActivityScanner is already initialised");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOy*ld(dd)", keywords, &words, &gateways,
                                     &stages, &environments, &flags, &shape_rank,
                                     &self->max_duration_ms, &self->min_ms, &self->log_step))
        return -1;
    int status = -1;
    /* A few hundred buckets from min_ms to max_duration_ms, or a misconfiguration. */
    double buckets = log(self->max_duration_ms / self->min_ms) / self->log_step;
    if (!(self->min_ms > 0 && self->log_step > 0 && buckets > 0 && buckets < 65536)) {
        PyErr_SetString(PyExc_ValueError, "buckets: (min_ms, log_step), above 0, at most 65536 "
                                          "buckets up to max_duration_ms");
        goto done;
    }
    self->lowest_bucket = bucket_of(self, 0);
    self->bucket_count = bucket_of(self, self->max_duration_ms) - self->lowest_bucket + 1;
    if (flags.len != 256) {
        PyErr_SetString(PyExc_ValueError, "flags: 256 bytes, one per byte value");
        goto done;
    }
    if (shape_rank < 0 || shape_rank > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "shape_rank out of range");
        goto done;
    }
    if (check_names(gateways, "gateways") < 0 || check_names(stages, "stages") < 0 ||
        check_names(environments, "environments") < 0 ||
        check_words(words, PyTuple_GET_SIZE(gateways), PyTuple_GET_SIZE(stages),
                    PyTuple_GET_SIZE(environments), shape_rank) < 0)
        goto done;
    memcpy(self->flags, flags.buf, 256);
    self->shape_rank = shape_rank;
    PyObject *captured = PyUnicode_FromString("captured");
    if (captured == NULL) goto done;
    Py_ssize_t captured_rank = PySequence_Index(stages, captured);
    Py_DECREF(captured);
    if (captured_rank < 0) {
        PyErr_SetString(PyExc_ValueError, "stages: \"captured\" is not among them");
        goto done;
    }
    self->captured = (int)captured_rank;
    Py_XSETREF(self->gateways, Py_NewRef(gateways));
    Py_XSETREF(self->stages, Py_NewRef(stages));
    Py_XSETREF(self->environments, Py_NewRef(environments));
    status = build_automaton(&self->automaton, words);
done:
    PyBuffer_Release(&flags);
    return status;
}

static void Scanner_dealloc(Scanner *self) {
    automaton_free(&self->automaton);
    Py_XDECREF(self->gateways);
    Py_XDECREF(self->stages);
    Py_XDECREF(self->environments);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int ready(Scanner *self) {
    if (self->automaton.delta == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "ActivityScanner is not initialised");
        return 0;
    }
    return 1;
}

static PyObject *Scanner_scan_checked(Scanner *self, PyObject *arg) {
    return ready(self) ? Scanner_scan(self, arg) : NULL;
}

static PyObject *Scanner_batch_checked(Scanner *self, PyObject *args, PyObject *kwds) {
    return ready(self) ? Scanner_batch(self, args, kwds) : NULL;
}

static PyMethodDef Scanner_methods[] = {
    {"scan", (PyCFunction)Scanner_scan_checked, METH_O,
     "scan(chunk) -> [(start, gateway, stage, environment, duration_ms, transaction_ids, "
     "request_ids)] for every line with a gateway marker or lifecycle word."},
    {"batch", (PyCFunction)(void (*)(void))Scanner_batch_checked, METH_VARARGS | METH_KEYWORDS,
     "batch(chunk, first_line, skips, gateway, since, until, last, minute_of, time_of) -> "
     "(columns, minute groups) of the activity rows incident detectors see."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "paydiag._speedups.ActivityScanner",
    .tp_basicsize = sizeof(Scanner),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The gateway-activity scan of paydiag.parse.activity, in C.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Scanner_init,
    .tp_dealloc = (destructor)Scanner_dealloc,
    .tp_methods = Scanner_methods,
};

/* ---- LiteralScanner: match/scanners.py's literal candidate scan ------------------- */

enum { L_ERROR_WORD, L_KEY };

typedef struct {
    PyObject_HEAD
    Automaton automaton;
    char *blob;                     /* every alternative literal, end to end */
    Py_ssize_t *alternative_start;  /* per alternative (+1): its offset in `blob` */
    Py_ssize_t *requirement_start;  /* per requirement (+1): its first alternative */
    Py_ssize_t *pattern_start;      /* per pattern (+1): its first requirement */
    Py_ssize_t *key_start;          /* per key (+1): its first pattern */
    Py_ssize_t keys;
} LiteralScanner;

/* Whether `needle` occurs in `haystack`: Python's `in` on the lowered line. */
static int contains(const char *haystack, Py_ssize_t size, const char *needle, Py_ssize_t length) {
    if (length == 0) return 1;
    const char *end = haystack + size - length;
    for (const char *at = haystack; at <= end; at++) {
        at = memchr(at, needle[0], (size_t)(end - at + 1));
        if (at == NULL) return 0;
        if (memcmp(at, needle, (size_t)length) == 0) return 1;
    }
    return 0;
}

/* _meets_a_pattern: every requirement of some pattern filed under a found key has an
 * alternative in the (lowered) line. */
static int meets_a_pattern(const LiteralScanner *self, const char *line, Py_ssize_t size,
                           const int32_t *found, Py_ssize_t count) {
    for (Py_ssize_t f = 0; f < count; f++) {
        Py_ssize_t key = found[f];
        for (Py_ssize_t p = self->key_start[key]; p < self->key_start[key + 1]; p++) {
            int met = 1;
            for (Py_ssize_t r = self->pattern_start[p]; met && r < self->pattern_start[p + 1]; r++) {
                met = 0;
                for (Py_ssize_t a = self->requirement_start[r];
                     !met && a < self->requirement_start[r + 1]; a++) {
                    const char *literal = self->blob + self->alternative_start[a];
                    met = contains(line, size, literal,
                                   self->alternative_start[a + 1] - self->alternative_start[a]);
                }
            }
            if (met) return 1;
        }
    }
    return 0;
}

typedef struct {
    PyObject *hits;
    char *lowered; /* the line being checked, lowered */
    Py_ssize_t lowered_cap;
    int32_t *found; /* the keys on the line, each once */
    Py_ssize_t found_count;
    int64_t *seen_on; /* per key: the number of the last line it was found on */
} LiteralScan;

static int flush_line(LiteralScanner *self, LiteralScan *scan, const unsigned char *text,
                      Py_ssize_t start, Py_ssize_t stop) {
    if (scan->found_count == 0) return 0;
    Py_ssize_t size = stop - start;
    if (size > scan->lowered_cap) {
        char *grown = PyMem_Realloc(scan->lowered, (size_t)size);
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        scan->lowered = grown;
        scan->lowered_cap = size;
    }
    for (Py_ssize_t i = 0; i < size; i++) scan->lowered[i] = (char)ascii_lower(text[start + i]);
    if (!meets_a_pattern(self, scan->lowered, size, scan->found, scan->found_count)) return 0;
    return append_new(scan->hits, PyLong_FromSsize_t(start));
}

static PyObject *LiteralScanner_hits(LiteralScanner *self, PyObject *arg) {
    if (self->automaton.delta == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "LiteralScanner is not initialised");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    const unsigned char *text = view.buf;
    Py_ssize_t size = view.len;
    LiteralScan scan = {PyList_New(0), NULL, 0, NULL, 0, NULL};
    Hits found = {NULL, 0, 0};
    scan.found = PyMem_Malloc((size_t)(self->keys ? self->keys : 1) * sizeof(int32_t));
    scan.seen_on = PyMem_Calloc((size_t)(self->keys ? self->keys : 1), sizeof(int64_t));
    if (scan.hits == NULL || scan.found == NULL || scan.seen_on == NULL) {
        if (scan.hits != NULL) PyErr_NoMemory();
        goto fail;
    }
    const Automaton *automaton = &self->automaton;
    Py_ssize_t start = 0, stop = -1;
    int64_t line = 0; /* numbers the lines with hits, from 1 */
    int decided = 0;  /* the line is a hit already (an error word) */
    if (find_hits(automaton, text, size, &found) < 0) goto fail;
    for (Py_ssize_t h = 0; h < found.len; h++) {
        Py_ssize_t i = found.items[h].at;
        int32_t state = found.items[h].state;
        int32_t count = automaton->out_count[state];
        if (i > stop) { /* the first hit on a new line: the last one is decided */
            if (!decided && flush_line(self, &scan, text, start, stop) < 0) goto fail;
            start = line_start(text, stop, i);
            const unsigned char *newline = memchr(text + i, '\n', (size_t)(size - i));
            stop = newline ? newline - text : size;
            scan.found_count = 0;
            decided = 0;
            line++;
        }
        if (decided) continue;
        const int32_t *words = automaton->outs + automaton->out_start[state];
        for (int32_t k = 0; k < count; k++) {
            int32_t word = words[k];
            if (automaton->word_kind[word] == L_ERROR_WORD) {
                if (append_new(scan.hits, PyLong_FromSsize_t(start)) < 0) goto fail;
                decided = 1;
                break;
            }
            int32_t key = automaton->word_value[word];
            if (scan.seen_on[key] != line) {
                scan.seen_on[key] = line;
                scan.found[scan.found_count++] = key;
            }
        }
    }
    if (!decided && flush_line(self, &scan, text, start, stop) < 0) goto fail;
    hits_free(&found);
    PyMem_Free(scan.lowered);
    PyMem_Free(scan.found);
    PyMem_Free(scan.seen_on);
    PyBuffer_Release(&view);
    return scan.hits;
fail:
    hits_free(&found);
    Py_XDECREF(scan.hits);
    PyMem_Free(scan.lowered);
    PyMem_Free(scan.found);
    PyMem_Free(scan.seen_on);
    PyBuffer_Release(&view);
    return NULL;
}

/* Every alternative of `patterns` (per key, per pattern, per requirement: a tuple of
 * bytes) in flat arrays, counted first, then filled. */
static int flatten_patterns(LiteralScanner *self, PyObject *patterns) {
    if (!PyList_Check(patterns)) {
        PyErr_SetString(PyExc_TypeError, "patterns: a list per key");
        return -1;
    }
    Py_ssize_t keys = PyList_GET_SIZE(patterns), pattern_count = 0, requirement_count = 0,
               alternative_count = 0, blob_size = 0;
    for (Py_ssize_t k = 0; k < keys; k++) {
        PyObject *filed = PyList_GET_ITEM(patterns, k);
        if (!PyList_Check(filed)) goto bad;
        for (Py_ssize_t p = 0; p < PyList_GET_SIZE(filed); p++) {
            PyObject *requirements = PyList_GET_ITEM(filed, p);
            if (!PyList_Check(requirements)) goto bad;
            pattern_count++;
            for (Py_ssize_t r = 0; r < PyList_GET_SIZE(requirements); r++) {
                PyObject *alternatives = PyList_GET_ITEM(requirements, r);
                if (!PyTuple_Check(alternatives)) goto bad;
                requirement_count++;
                for (Py_ssize_t a = 0; a < PyTuple_GET_SIZE(alternatives); a++) {
                    PyObject *literal = PyTuple_GET_ITEM(alternatives, a);
                    if (!PyBytes_Check(literal)) goto bad;
                    alternative_count++;
                    blob_size += PyBytes_GET_SIZE(literal);
                }
            }
        }
    }
    self->keys = keys;
    self->key_start = PyMem_Malloc((size_t)(keys + 1) * sizeof(Py_ssize_t));
    self->pattern_start = PyMem_Malloc((size_t)(pattern_count + 1) * sizeof(Py_ssize_t));
    self->requirement_start = PyMem_Malloc((size_t)(requirement_count + 1) * sizeof(Py_ssize_t));
    self->alternative_start = PyMem_Malloc((size_t)(alternative_count + 1) * sizeof(Py_ssize_t));
    self->blob = PyMem_Malloc((size_t)(blob_size ? blob_size : 1));
    if (!self->key_start || !self->pattern_start || !self->requirement_start ||
        !self->alternative_start || !self->blob) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t p_at = 0, r_at = 0, a_at = 0, b_at = 0;
    for (Py_ssize_t k = 0; k < keys; k++) {
        PyObject *filed = PyList_GET_ITEM(patterns, k);
        self->key_start[k] = p_at;
        for (Py_ssize_t p = 0; p < PyList_GET_SIZE(filed); p++) {
            PyObject *requirements = PyList_GET_ITEM(filed, p);
            self->pattern_start[p_at++] = r_at;
            for (Py_ssize_t r = 0; r < PyList_GET_SIZE(requirements); r++) {
                PyObject *alternatives = PyList_GET_ITEM(requirements, r);
                self->requirement_start[r_at++] = a_at;
                for (Py_ssize_t a = 0; a < PyTuple_GET_SIZE(alternatives); a++) {
                    PyObject *literal = PyTuple_GET_ITEM(alternatives, a);
                    self->alternative_start[a_at++] = b_at;
                    memcpy(self->blob + b_at, PyBytes_AS_STRING(literal),
                           (size_t)PyBytes_GET_SIZE(literal));
                    b_at += PyBytes_GET_SIZE(literal);
                }
            }
        }
    }
    self->key_start[keys] = p_at;
    self->pattern_start[p_at] = r_at;
    self->requirement_start[r_at] = a_at;
    self->alternative_start[a_at] = b_at;
    return 0;
bad:
    PyErr_SetString(PyExc_TypeError,
                    "patterns: per key a list of patterns, each a list of tuples of bytes");
    return -1;
}

static int LiteralScanner_init(LiteralScanner *self, PyObject *args, PyObject *kwds) {
    static char *keywords[] = {"words", "patterns", NULL};
    PyObject *words, *patterns;
    if (self->automaton.delta != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "LiteralScanner is already initialised");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO", keywords, &words, &patterns)) return -1;
    if (flatten_patterns(self, patterns) < 0) return -1;
    if (words_list(words) < 0) return -1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(words); i++) {
        long kind, value;
        if (word_at(words, i, &kind, &value) < 0) return -1;
        if ((kind != L_ERROR_WORD && kind != L_KEY) || (kind == L_KEY && (value < 0 || value >= self->keys))) {
            PyErr_Format(PyExc_ValueError, "words[%zd]: kind %ld or key %ld out of range", i, kind,
                         value);
            return -1;
        }
    }
    return build_automaton(&self->automaton, words);
}

static void LiteralScanner_dealloc(LiteralScanner *self) {
    automaton_free(&self->automaton);
    PyMem_Free(self->blob);
    PyMem_Free(self->alternative_start);
    PyMem_Free(self->requirement_start);
    PyMem_Free(self->pattern_start);
    PyMem_Free(self->key_start);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef LiteralScanner_methods[] = {
    {"hits", (PyCFunction)LiteralScanner_hits, METH_O,
     "hits(chunk) -> the start of every line holding an error word or meeting every "
     "requirement of a pattern filed under a key it holds."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject LiteralScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "paydiag._speedups.LiteralScanner",
    .tp_basicsize = sizeof(LiteralScanner),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The literal candidate scan of paydiag.match.scanners, in C.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)LiteralScanner_init,
    .tp_dealloc = (destructor)LiteralScanner_dealloc,
    .tp_methods = LiteralScanner_methods,
};

/* ---- newlines (speedups.count_newlines) ------------------------------------------ */

/* bytes.count(b"\n", start, end): CPython's count looks at one byte at a time, and a pass
 * counts the newlines of every chunk at least twice. */
static PyObject *count_newlines(PyObject *module, PyObject *args) {
    Py_buffer view;
    Py_ssize_t start = 0, end = PY_SSIZE_T_MAX;
    if (!PyArg_ParseTuple(args, "y*|nn", &view, &start, &end)) return NULL;
    Py_ssize_t size = view.len;
    if (start < 0) start = start + size < 0 ? 0 : start + size; /* as a slice takes them */
    if (end < 0) end = end + size < 0 ? 0 : end + size;
    if (end > size) end = size;
    Py_ssize_t count = start < end ? newlines_in(view.buf, start, end) : 0;
    PyBuffer_Release(&view);
    (void)module;
    return PyLong_FromSsize_t(count);
}

/* ---- record spans (ingest/records.py's record_spans_in_python) ------------------- */

/* The last newline of text[from:end], or NULL. */
static const unsigned char *last_newline(const unsigned char *text, Py_ssize_t from,
                                         Py_ssize_t end) {
#ifdef __GLIBC__
    return from < end ? memrchr(text + from, '\n', (size_t)(end - from)) : NULL;
#else
    for (Py_ssize_t i = end; i > from; i--)
        if (text[i - 1] == '\n') return text + i - 1;
    return NULL;
#endif
}

/* Where the line holding text[end - 1] starts: bytes.rfind(b"\n", 0, end) + 1. */
static Py_ssize_t line_head(const unsigned char *text, Py_ssize_t end) {
    const unsigned char *newline = last_newline(text, 0, end);
    return newline == NULL ? 0 : newline - text + 1;
}

/* Where the line starting at `start` ends (its newline, or `size`). */
static Py_ssize_t line_tail(const unsigned char *text, Py_ssize_t start, Py_ssize_t size) {
    const unsigned char *newline = memchr(text + start, '\n', (size_t)(size - start));
    return newline == NULL ? size : newline - text;
}

static inline int java_name_char(unsigned char c) { return ascii_alnum(c) || c == '_' || c == '$'; }

/* (?:[A-Za-z_$][\w$]*\.)+[\w$]*(?:Exception|Error)[\w$]*(?=:|\r?\n|\r?$) at `at`. A match
 * holds only [\w$.] and what follows it may not, so it is the whole run of them: dotted
 * names, none empty nor starting with a digit, then a last name holding Exception or Error. */
static int dotted_exception(const unsigned char *t, Py_ssize_t at, Py_ssize_t size) {
    Py_ssize_t end = at, name = at, last_dot = -1;
    for (; end < size && (java_name_char(t[end]) || t[end] == '.'); end++) {
        if (t[end] != '.') continue;
        if (end == name || is_digit(t[name])) return 0; /* a name empty or starting with a digit */
        last_dot = end;
        name = end + 1;
    }
    if (end < size && !(t[end] == ':' || t[end] == '\n' ||
                        (t[end] == '\r' && (end + 1 == size || t[end + 1] == '\n'))))
        return 0;
    if (last_dot < 0) return 0;
    const char *last = (const char *)t + name;
    Py_ssize_t length = end - name;
    return contains(last, length, "Exception", 9) || contains(last, length, "Error", 5);
}

/* _CONTINUATION matched at the line start `at`. */
static int is_continuation(const unsigned char *t, Py_ssize_t at, Py_ssize_t size) {
    const char *c = (const char *)t;
    if (at >= size) return 0;
    if (t[at] == ' ' || t[at] == '\t') return 1;
    if (starts_with(c, at, size, "Caused by:", 10) ||
        starts_with(c, at, size, "Traceback (most recent call last)", 33))
        return 1;
    if (starts_with(c, at, size, "... ", 4)) { /* \.\.\. \d+ more */
        Py_ssize_t i = at + 4;
        while (i < size && is_digit(t[i])) i++;
        if (i > at + 4 && starts_with(c, i, size, " more", 5)) return 1;
    }
    return dotted_exception(t, at, size);
}

/* _walk_back: from the line at `start` back over continuation lines, not to `floor`. */
static Py_ssize_t walk_back(const unsigned char *t, Py_ssize_t start, Py_ssize_t floor,
                            Py_ssize_t size, Py_ssize_t most) {
    for (Py_ssize_t i = 0; i < most; i++) {
        if (start == 0 || start <= floor + 1 || !is_continuation(t, start, size)) return start;
        start = line_head(t, start - 1);
    }
    return start;
}

/* _walk_forward: from the line ending at `end` on over the continuation lines after it. */
static Py_ssize_t walk_forward(const unsigned char *t, Py_ssize_t end, Py_ssize_t size,
                               Py_ssize_t most) {
    for (Py_ssize_t i = 0; i < most; i++) {
        Py_ssize_t next = end + 1;
        if (next >= size || !is_continuation(t, next, size)) return end;
        end = line_tail(t, next, size);
    }
    return end;
}

static int by_offset(const void *a, const void *b) {
    Py_ssize_t x = *(const Py_ssize_t *)a, y = *(const Py_ssize_t *)b;
    return (x > y) - (x < y);
}

/* The start of the line of each hit (an offset as bytes.rfind takes its end), sorted. */
static Py_ssize_t *hit_lines(const unsigned char *t, Py_ssize_t size, PyObject *hits,
                             Py_ssize_t *count) {
    PyObject *seq = PySequence_Fast(hits, "record_spans() hits must be iterable");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq), before = 0, kept = 0;
    int sorted = 1;
    Py_ssize_t *starts = PyMem_Malloc((size_t)(n + 1) * sizeof(Py_ssize_t));
    if (starts == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t hit = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(seq, i));
        if (hit == -1 && PyErr_Occurred()) {
            PyMem_Free(starts);
            Py_DECREF(seq);
            return NULL;
        }
        if (hit < 0) hit = hit + size < 0 ? 0 : hit + size; /* as a slice takes them */
        if (hit > size) hit = size;
        /* Scanners report several hits on a line, in order: the search back for the line's
         * start stops at the hit before, on the same line when no newline came between. */
        int same_line = kept > 0 && hit >= before && last_newline(t, before, hit) == NULL;
        before = hit;
        if (same_line) continue; /* the line of the hit before, whose start is the last */
        Py_ssize_t head = line_head(t, hit);
        if (kept > 0 && head < starts[kept - 1]) sorted = 0;
        starts[kept++] = head;
    }
    Py_DECREF(seq);
    if (!sorted) qsort(starts, (size_t)kept, sizeof(Py_ssize_t), by_offset);
    *count = kept;
    return starts;
}

/* (start, end, line), made directly: Py_BuildValue reads its format for every span. */
static PyObject *span_tuple(Py_ssize_t start, Py_ssize_t end, Py_ssize_t line) {
    PyObject *span = PyTuple_New(3);
    Py_ssize_t values[3] = {start, end, line};
    for (int i = 0; span != NULL && i < 3; i++) {
        PyObject *value = PyLong_FromSsize_t(values[i]);
        if (value == NULL) Py_CLEAR(span);
        else PyTuple_SET_ITEM(span, i, value);
    }
    return span;
}

/* record_spans(chunk, first_line, hits, multiline, most_lines): see _speedups.pyi. */
static PyObject *record_spans(PyObject *module, PyObject *args) {
    Py_buffer view;
    Py_ssize_t first_line, most, count;
    PyObject *hits;
    int multiline;
    (void)module;
    if (!PyArg_ParseTuple(args, "y*nOpn", &view, &first_line, &hits, &multiline, &most))
        return NULL;
    const unsigned char *t = view.buf;
    Py_ssize_t size = view.len;
    Py_ssize_t *starts = hit_lines(t, size, hits, &count);
    PyObject *spans = starts == NULL ? NULL : PyList_New(0);
    Py_ssize_t counted_to = 0, line = first_line, previous_end = -1;
    for (Py_ssize_t i = 0; spans != NULL && i < count; i++) {
        if (starts[i] <= previous_end) continue; /* in the record before, or a repeat */
        Py_ssize_t start = starts[i], end = line_tail(t, start, size);
        if (multiline) {
            start = walk_back(t, start, previous_end, size, most);
            end = walk_forward(t, end, size, most);
        }
        line += newlines_in(t, counted_to, start);
        counted_to = start;
        previous_end = end;
        PyObject *span = span_tuple(start, end, line);
        if (span == NULL || PyList_Append(spans, span) < 0) Py_CLEAR(spans);
        Py_XDECREF(span);
    }
    PyMem_Free(starts);
    PyBuffer_Release(&view);
    return spans;
}

/* ---- text fields (parse/fields.py's _add_text_fields, for ASCII records) ---------- */

/* The key/value and XML regexes of fields.py, read by hand: each is deterministic once
 * written out (see below), and the regexes cost about a fifth of parsing an error record.
 * Only ASCII text is read here; a record that is not, or whose bare value reaches the
 * 200-character cap (where key_values() reads again with another regex), is left to
 * Python, the reference (tests/test_text_fields_native.py). */

enum {
    F_KEY = 1,
    F_KEY_START = 2,
    F_SKIP = 4,
    F_SPACE = 8,
    F_NOT_BARE = 16,
    F_XML_KEY = 32,
    F_LETTER = 64
};
static unsigned char field_class[128];

static void init_field_classes(void) {
    for (int c = 0; c < 128; c++) {
        int alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'), digit = c >= '0' && c <= '9';
        int space = (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= ' ');
        unsigned char f = 0;
        if (alpha || digit || c == '_' || c == '.' || c == '@' || c == '-') f |= F_KEY;
        if (alpha || c == '@' || c == '_') f |= F_KEY_START;
        if (digit || c == '.' || c == '-') f |= F_SKIP;
        if (space) f |= F_SPACE;
        if (space || (c && strchr(",;&\"'<>{}[]", c))) f |= F_NOT_BARE;
        if (alpha || digit || c == '_' || c == ':' || c == '.' || c == '-') f |= F_XML_KEY;
        if (alpha) f |= F_LETTER;
        field_class[c] = f;
    }
}

#define IS(c, flag) (field_class[(unsigned char)(c)] & (flag))

typedef struct {
    Py_ssize_t key, key_len, value, value_len, end; /* end: where the match ends */
} FieldSpan;

typedef struct {
    FieldSpan *items;
    Py_ssize_t size, room;
} FieldSpans;

static int push_field(FieldSpans *spans, FieldSpan span) {
    if (spans->size == spans->room) {
        Py_ssize_t room = spans->room ? spans->room * 2 : 16;
        FieldSpan *grown = PyMem_Realloc(spans->items, room * sizeof(FieldSpan));
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        spans->items = grown;
        spans->room = room;
    }
    spans->items[spans->size++] = span;
    return 0;
}

/* The value after a key ending at `at`: `["']?\s?[=:]\s?` then "...", '...' or a bare run
 * (1 to 200). Each optional piece is taken when present: giving it back leaves a character
 * the next piece cannot match, so the regex's backtracking never finds another reading.
 * Returns 1 with the value's span, 0 for none, 2 for a bare value at the cap. */
static int read_field_value(const char *text, Py_ssize_t size, Py_ssize_t at, FieldSpan *span) {
    if (at < size && (text[at] == '"' || text[at] == '\'')) at++;
    if (at < size && IS(text[at], F_SPACE)) at++;
    if (at >= size || (text[at] != '=' && text[at] != ':')) return 0;
    at++;
    if (at < size && IS(text[at], F_SPACE)) at++;
    if (at >= size) return 0;
    char quote = text[at];
    if (quote == '"' || quote == '\'') { /* up to 200 characters, then the same quote */
        Py_ssize_t end = at + 1;
        while (end < size && end - at - 1 <= 200 && text[end] != quote && text[end] != '\n') end++;
        if (end >= size || text[end] != quote || end - at - 1 > 200) return 0;
        span->value = at + 1;
        span->value_len = end - at - 1;
        span->end = end + 1;
        return 1;
    }
    Py_ssize_t end = at;
    while (end < size && end - at < 200 && !IS(text[end], F_NOT_BARE)) end++;
    if (end == at) return 0;
    span->value = at;
    span->value_len = end - at;
    span->end = end;
    return end - at == 200 ? 2 : 1;
}

/* _KEY_VALUE_BY_RUN_ASCII.findall(): a match starts only where a run of key characters
 * does; its key ends where the run ends. It starts after the run's leading digits, dots
 * and dashes (when at most 49 characters are left), or, in a run of 50 or more, at the
 * first letter, @ or _ among its last 49. Returns -1 on error, 1 if Python must read it. */
static int find_key_values(const char *text, Py_ssize_t size, FieldSpans *spans) {
    Py_ssize_t at = 0;
    while (at < size) {
        if (!IS(text[at], F_KEY) || (at > 0 && IS(text[at - 1], F_KEY))) {
            at++;
            continue;
        }
        Py_ssize_t end = at;
        while (end < size && IS(text[end], F_KEY)) end++;
        Py_ssize_t key = at;
        while (key < end && IS(text[key], F_SKIP)) key++;
        int fits = key < end && IS(text[key], F_KEY_START) && end - key <= 49;
        if (!fits && end - at >= 50) {
            key = end - 49 > at ? end - 49 : at;
            while (key < end && !IS(text[key], F_KEY_START)) key++;
            fits = key < end;
        }
        FieldSpan span = {key, end - key, 0, 0, 0};
        int found = fits ? read_field_value(text, size, end, &span) : 0;
        if (found == 2) return 1;
        if (found == 1) {
            if (push_field(spans, span) < 0) return -1;
            at = span.end;
        } else {
            at = end;
        }
    }
    return 0;
}

/* _XML_ELEMENT.finditer(): <Key>value</Key>, the key a letter and up to 48 of [\w:.-] up
 * to the `>`, the value 1 to 200 characters up to the `<` of the closing tag. */
static int find_xml_elements(const char *text, Py_ssize_t size, FieldSpans *spans) {
    const char *found;
    Py_ssize_t at = 0;
    while (at < size && (found = memchr(text + at, '<', size - at)) != NULL) {
        Py_ssize_t key = found - text + 1, end = key;
        at = key; /* where the search goes on if this is no element */
        if (end >= size || !IS(text[end], F_LETTER)) continue;
        while (end < size && IS(text[end], F_XML_KEY)) end++;
        Py_ssize_t key_len = end - key;
        if (key_len > 49 || end >= size || text[end] != '>') continue;
        Py_ssize_t value = end + 1, value_end = value;
        while (value_end < size && value_end - value <= 200 && text[value_end] != '<' &&
               text[value_end] != '>' && text[value_end] != '\n')
            value_end++;
        Py_ssize_t value_len = value_end - value, close = value_end + 2 + key_len;
        if (value_len < 1 || value_len > 200 || close >= size || text[value_end] != '<' ||
            text[value_end + 1] != '/' || memcmp(text + value_end + 2, text + key, key_len) != 0 ||
            text[close] != '>')
            continue;
        while (value_len && IS(text[value], F_SPACE)) value++, value_len--; /* str.strip() */
        while (value_len && IS(text[value + value_len - 1], F_SPACE)) value_len--;
        if (push_field(spans, (FieldSpan){key, key_len, value, value_len, close + 1}) < 0)
            return -1;
        at = close + 1;
    }
    return 0;
}

/* Appends key[from:to] to `name` lowercased, its letters and digits only. */
static void append_alnum(char *name, Py_ssize_t *length, const char *key, Py_ssize_t from,
                         Py_ssize_t to) {
    for (Py_ssize_t i = from; i < to; i++) {
        char c = (char)(key[i] >= 'A' && key[i] <= 'Z' ? key[i] + 32 : key[i]);
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) name[(*length)++] = c;
    }
}

/* normalise_key() of an ASCII key: lowercased, letters and digits only, of a dotted key
 * the last part, and of `<parent>.id` the parent's too. */
static PyObject *normalised_key(const char *key, Py_ssize_t size) {
    char name[64]; /* keys are at most 49 characters */
    Py_ssize_t last = size, parent = -1, length = 0;
    for (Py_ssize_t i = size - 1; i >= 0; i--) {
        if (key[i] == '.') {
            if (last == size) {
                last = i;
            } else {
                parent = i;
                break;
            }
        }
    }
    append_alnum(name, &length, key, last == size ? 0 : last + 1, size);
    if (last != size && length == 2 && name[0] == 'i' && name[1] == 'd') {
        length = 0; /* the parent's letters and digits, then the "id" */
        append_alnum(name, &length, key, parent + 1, last);
        name[length++] = 'i';
        name[length++] = 'd';
    }
    return PyUnicode_FromStringAndSize(name, length);
}

static int add_fields(PyObject *fields, const char *text, const FieldSpans *spans) {
    for (Py_ssize_t i = 0; i < spans->size; i++) {
        const FieldSpan *span = &spans->items[i];
        PyObject *name = normalised_key(text + span->key, span->key_len);
        PyObject *value = PyUnicode_FromStringAndSize(text + span->value, span->value_len);
        PyObject *values = NULL, *fresh = NULL;
        if (name != NULL && value != NULL && (fresh = PyList_New(0)) != NULL)
            values = PyDict_SetDefault(fields, name, fresh);
        int failed = values == NULL || PyList_Append(values, value) < 0;
        Py_XDECREF(name);
        Py_XDECREF(value);
        Py_XDECREF(fresh);
        if (failed) return -1;
    }
    return 0;
}

/* text_fields(text, fields): see _speedups.pyi. */
static PyObject *text_fields(PyObject *module, PyObject *args) {
    PyObject *text, *fields;
    (void)module;
    if (!PyArg_ParseTuple(args, "UO!", &text, &PyDict_Type, &fields)) return NULL;
    if (!PyUnicode_IS_ASCII(text)) Py_RETURN_FALSE;
    const char *chars = (const char *)PyUnicode_1BYTE_DATA(text);
    Py_ssize_t size = PyUnicode_GET_LENGTH(text);
    FieldSpans xml = {NULL, 0, 0}, pairs = {NULL, 0, 0};
    int status = memchr(chars, '<', size) ? find_xml_elements(chars, size, &xml) : 0;
    if (status == 0) status = find_key_values(chars, size, &pairs);
    if (status == 0 &&
        (add_fields(fields, chars, &xml) < 0 || add_fields(fields, chars, &pairs) < 0))
        status = -1;
    PyMem_Free(xml.items);
    PyMem_Free(pairs.items);
    if (status < 0) return NULL;
    return PyBool_FromLong(status == 0);
}

/* ---- text facts (parse/event.py's text_facts_in_python, for ASCII records) -------- */

/* The level word, an HTTP status written out, the gateway and the environment a record's
 * words say: in Python five regexes and two dozen substring tests, about a sixth of
 * parsing an error record; here one pass (find_literals) and a look at the level. Only
 * ASCII text is read (its lower() is ASCII lowercasing, and Python's \w, \s and \d are
 * [0-9A-Za-z_], [\t-\r\x1c- ] and [0-9]); the rest is left to Python, the reference
 * (tests/test_text_facts_native.py). */

static inline int word_char(unsigned char c) { return ascii_alnum(c) || c == '_'; }

/* _LEVEL_WORD over text[:120]: (TRACE|DEBUG|...|EMERG)\b after no word character. Words
 * that share a start differ in word characters, so at most one matches at a place, and
 * WARN(?:ING)? tries the longer first as the greedy regex does. The slice's end is a
 * boundary. Returns the word's index, or -1. */
static const struct {
    const char *word;
    Py_ssize_t len;
} LEVEL_WORDS[] = {
    {"TRACE", 5}, {"DEBUG", 5},    {"INFO", 4}, {"NOTICE", 6}, {"WARNING", 7},
    {"WARN", 4},  {"ERROR", 5},    {"ERR", 3},  {"FATAL", 5},  {"CRITICAL", 8},
    {"CRIT", 4},  {"SEVERE", 6},   {"ALERT", 5}, {"EMERG", 5},
};
#define LEVEL_WORD_MAX 8
#define LEVEL_WORD_COUNT ((int)(sizeof LEVEL_WORDS / sizeof LEVEL_WORDS[0]))
#define LEVEL_SPAN 120

static int level_word(const char *t, Py_ssize_t size) {
    Py_ssize_t end = size < LEVEL_SPAN ? size : LEVEL_SPAN;
    for (Py_ssize_t i = 0; i < end; i++) {
        if (t[i] < 'A' || t[i] > 'W' || (i > 0 && word_char((unsigned char)t[i - 1]))) continue;
        for (int w = 0; w < LEVEL_WORD_COUNT; w++) {
            Py_ssize_t len = LEVEL_WORDS[w].len;
            if (starts_with(t, i, end, LEVEL_WORDS[w].word, len) &&
                (i + len == end || !word_char((unsigned char)t[i + len])))
                return w;
        }
    }
    return -1;
}

/* ([1-5]\d\d)\b at `at`: the status, or 0. */
static int status_at(const char *t, Py_ssize_t at, Py_ssize_t size) {
    if (size - at < 3 || t[at] < '1' || t[at] > '5' || !is_digit((unsigned char)t[at + 1]) ||
        !is_digit((unsigned char)t[at + 2]) ||
        (size - at > 3 && word_char((unsigned char)t[at + 3])))
        return 0;
    return (t[at] - '0') * 100 + (t[at + 1] - '0') * 10 + (t[at + 2] - '0');
}

/* [ =:]+ from `at`: where it ends, or -1 for none. */
static Py_ssize_t separators(const char *t, Py_ssize_t at, Py_ssize_t size) {
    Py_ssize_t i = at;
    while (i < size && (t[i] == ' ' || t[i] == '=' || t[i] == ':')) i++;
    return i > at ? i : -1;
}

/* _HTTP_STATUS_TEXT at `i`: HTTP/\d(?:\.\d)?"? , status[ =:]+ or code[ =:]+ after no word
 * character, then ([1-5]\d\d)\b; each is deterministic once written out. The status, or 0. */
static int status_written_at(const char *t, Py_ssize_t i, Py_ssize_t size) {
    if (i > 0 && word_char((unsigned char)t[i - 1])) return 0;
    Py_ssize_t j = -1;
    if (starts_with(t, i, size, "HTTP/", 5) && i + 5 < size && is_digit((unsigned char)t[i + 5])) {
        j = i + 6;
        if (j + 1 < size && t[j] == '.' && is_digit((unsigned char)t[j + 1])) j += 2;
        if (j < size && t[j] == '"') j++;
        j = j < size && t[j] == ' ' ? j + 1 : -1;
    } else if (starts_with(t, i, size, "status", 6)) {
        j = separators(t, i + 6, size);
    } else if (starts_with(t, i, size, "code", 4)) {
        j = separators(t, i + 4, size);
    }
    return j < 0 ? 0 : status_at(t, j, size);
}

/* The literals looked for in the lowered text: every gateway marker, the environment
 * markers of _SANDBOX and _LIVE, and the words before a status (their case is checked in
 * the text itself). All are found in one pass, each place's two bytes picking the few
 * literals that start with them, instead of one search per literal. */
enum { L_SANDBOX = -1, L_PRODUCTION = -2, L_LIVEMODE = -3, L_AMAZON_HOST = -4, L_STATUS = -5 };
#define BIGRAM_BUCKETS 4096

typedef struct {
    const char *bytes;
    Py_ssize_t len;
    int kind; /* a gateway's index, or L_* */
} Literal;

typedef struct {
    PyObject *gateways; /* the tuple this table is for (a strong reference) */
    Literal *literals;
    int count;
    uint64_t always; /* gateways with an empty marker, which every text holds */
    Literal *singles; /* markers of one byte, which no two bytes pick: memchr() */
    int single_count;
    int16_t head[BIGRAM_BUCKETS], *next;
} LiteralTable;

static LiteralTable literal_table;

static inline int bigram(const char *t) {
    return (((unsigned char)t[0] << 5) ^ (unsigned char)t[1]) & (BIGRAM_BUCKETS - 1);
}

/* The literals besides the gateway markers. */
static const struct {
    const char *bytes;
    int kind;
} FIXED_LITERALS[] = {
    {"sk_test_", L_SANDBOX},      {"pk_test_", L_SANDBOX},     {"rk_test_", L_SANDBOX},
    {"sandbox", L_SANDBOX},       {"-test.adyen", L_SANDBOX},  {"sk_live_", L_PRODUCTION},
    {"pk_live_", L_PRODUCTION},   {"rk_live_", L_PRODUCTION},  {"api-m.paypal.com", L_PRODUCTION},
    {"-live.adyen", L_PRODUCTION}, {"\"livemode\":", L_LIVEMODE}, {"pay-api.amazon.", L_AMAZON_HOST},
    {"http/", L_STATUS},          {"status", L_STATUS},        {"code", L_STATUS},
};
#define FIXED_LITERAL_COUNT ((int)(sizeof FIXED_LITERALS / sizeof FIXED_LITERALS[0]))

static void literal_table_clear(LiteralTable *table) {
    Py_CLEAR(table->gateways);
    PyMem_Free(table->literals);
    PyMem_Free(table->singles);
    PyMem_Free(table->next);
    table->literals = table->singles = NULL;
    table->next = NULL;
    table->count = table->single_count = 0;
}

static void literal_table_add(LiteralTable *table, const char *bytes, Py_ssize_t len, int kind) {
    if (len == 0) {
        table->always |= (uint64_t)1 << kind;
    } else if (len == 1) {
        table->singles[table->single_count++] = (Literal){bytes, len, kind};
    } else {
        int bucket = bigram(bytes);
        table->literals[table->count] = (Literal){bytes, len, kind};
        table->next[table->count] = table->head[bucket];
        table->head[bucket] = (int16_t)table->count++;
    }
}

/* The table for `gateways` ((name, (marker, ...)), ...): built when another tuple than the
 * last is passed (event.GATEWAY_MARKERS, in practice always the same). 0, or -1 with an
 * exception. The markers' bytes are their strings' own, which the tuple keeps alive. */
static int literal_table_for(PyObject *gateways) {
    LiteralTable *table = &literal_table;
    if (table->gateways == gateways) return 0;
    literal_table_clear(table);
    Py_ssize_t gateway_count = PyTuple_GET_SIZE(gateways), total = FIXED_LITERAL_COUNT;
    for (Py_ssize_t g = 0; g < gateway_count; g++) {
        PyObject *entry = PyTuple_GET_ITEM(gateways, g);
        if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 2 ||
            !PyTuple_Check(PyTuple_GET_ITEM(entry, 1))) {
            PyErr_SetString(PyExc_TypeError, "text_facts: gateways must be (name, markers) pairs");
            return -1;
        }
        total += PyTuple_GET_SIZE(PyTuple_GET_ITEM(entry, 1));
    }
    if (gateway_count > MAX_BITS || total > INT16_MAX) {
        PyErr_SetString(PyExc_ValueError, "text_facts: too many gateways or markers");
        return -1;
    }
    table->literals = PyMem_Malloc(sizeof(Literal) * (size_t)total);
    table->singles = PyMem_Malloc(sizeof(Literal) * (size_t)total);
    table->next = PyMem_Malloc(sizeof(int16_t) * (size_t)total);
    if (table->literals == NULL || table->singles == NULL || table->next == NULL) {
        literal_table_clear(table);
        PyErr_NoMemory();
        return -1;
    }
    memset(table->head, 0xff, sizeof table->head); /* -1: an empty bucket */
    table->always = 0;
    for (Py_ssize_t g = 0; g < gateway_count; g++) {
        PyObject *markers = PyTuple_GET_ITEM(PyTuple_GET_ITEM(gateways, g), 1);
        for (Py_ssize_t m = 0; m < PyTuple_GET_SIZE(markers); m++) {
            PyObject *marker = PyTuple_GET_ITEM(markers, m);
            Py_ssize_t len;
            const char *bytes = PyUnicode_Check(marker) ? PyUnicode_AsUTF8AndSize(marker, &len) : NULL;
            if (bytes == NULL) {
                if (!PyErr_Occurred())
                    PyErr_SetString(PyExc_TypeError, "text_facts: a marker must be a str");
                literal_table_clear(table);
                return -1;
            }
            literal_table_add(table, bytes, len, (int)g);
        }
    }
    for (int e = 0; e < FIXED_LITERAL_COUNT; e++)
        literal_table_add(table, FIXED_LITERALS[e].bytes,
                          (Py_ssize_t)strlen(FIXED_LITERALS[e].bytes),
                          FIXED_LITERALS[e].kind);
    table->gateways = Py_NewRef(gateways);
    return 0;
}

/* What the lowered text holds: gateways' bits, and environment flags. */
enum { E_SANDBOX = 1, E_PRODUCTION = 2 };

/* At `at`, after "livemode":, \s* then false or true; after pay-api.amazon., [a-z.]+
 * then /live/ (the run of [a-z.] cannot give back a "/"). */
static int environment_after(const char *t, Py_ssize_t at, Py_ssize_t size, int kind) {
    Py_ssize_t i = at;
    if (kind == L_LIVEMODE) {
        while (i < size && iso_space((unsigned char)t[i])) i++; /* \s (ASCII text) */
        return starts_with(t, i, size, "false", 5) ? E_SANDBOX
               : starts_with(t, i, size, "true", 4) ? E_PRODUCTION
                                                     : 0;
    }
    while (i < size && ((t[i] >= 'a' && t[i] <= 'z') || t[i] == '.')) i++;
    return i > at && starts_with(t, i, size, "/live/", 6) ? E_PRODUCTION : 0;
}

/* What the text `t`, lowered `low`, holds: gateways' bits, environment flags and the first
 * status written out (0 for none). */
static void find_literals(const char *t, const char *low, Py_ssize_t size, uint64_t *gateways,
                          int *environment, int *status) {
    const LiteralTable *table = &literal_table;
    uint64_t found = table->always;
    int flags = 0, first_status = 0;
    for (int s = 0; s < table->single_count; s++)
        if (memchr(low, table->singles[s].bytes[0], (size_t)size))
            found |= (uint64_t)1 << table->singles[s].kind;
    for (Py_ssize_t i = 0; i + 1 < size; i++) {
        for (int k = table->head[bigram(low + i)]; k >= 0; k = table->next[k]) {
            const Literal *literal = &table->literals[k];
            if (size - i < literal->len || memcmp(low + i, literal->bytes, literal->len) != 0)
                continue;
            if (literal->kind >= 0)
                found |= (uint64_t)1 << literal->kind;
            else if (literal->kind == L_SANDBOX)
                flags |= E_SANDBOX;
            else if (literal->kind == L_PRODUCTION)
                flags |= E_PRODUCTION;
            else if (literal->kind == L_STATUS)
                first_status = first_status ? first_status : status_written_at(t, i, size);
            else
                flags |= environment_after(low, i + literal->len, size, literal->kind);
        }
    }
    *gateways = found;
    *environment = flags;
    *status = first_status;
}

/* text_facts(text, lowered, gateways): see _speedups.pyi. */
static PyObject *text_facts(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 3 || !PyUnicode_Check(args[0]) || !PyUnicode_Check(args[1]) ||
        !PyTuple_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "text_facts(text: str, lowered: str, gateways: tuple)");
        return NULL;
    }
    PyObject *text = args[0], *lowered = args[1];
    Py_ssize_t size = PyUnicode_GET_LENGTH(text);
    if (!PyUnicode_IS_ASCII(text) || !PyUnicode_IS_ASCII(lowered) ||
        PyUnicode_GET_LENGTH(lowered) != size)
        Py_RETURN_NONE;
    const char *t = (const char *)PyUnicode_1BYTE_DATA(text);
    const char *low = (const char *)PyUnicode_1BYTE_DATA(lowered);
    if (literal_table_for(args[2]) < 0) return NULL;
    uint64_t gateways;
    int environment, status;
    find_literals(t, low, size, &gateways, &environment, &status);
    /* gateway_hint() takes the first gateway, environment_of() sandbox before production. */
    PyObject *gateway =
        gateways ? PyTuple_GET_ITEM(PyTuple_GET_ITEM(args[2], lowest_bit(gateways)), 0) : NULL;
    environment = environment & E_SANDBOX ? 1 : environment ? 2 : 0;
    int level = level_word(t, size);
    PyObject *word = NULL;
    if (level >= 0) { /* lowercased, as text_facts_in_python gives it */
        char lowered_word[LEVEL_WORD_MAX];
        for (Py_ssize_t i = 0; i < LEVEL_WORDS[level].len; i++)
            lowered_word[i] = (char)ascii_lower((unsigned char)LEVEL_WORDS[level].word[i]);
        if ((word = PyUnicode_FromStringAndSize(lowered_word, LEVEL_WORDS[level].len)) == NULL)
            return NULL;
    }
    static const char *const ENVIRONMENTS[] = {NULL, "sandbox", "production"};
    return Py_BuildValue("(NNOz)", word ? word : Py_NewRef(Py_None),
                         status ? PyLong_FromLong(status) : Py_NewRef(Py_None),
                         gateway ? gateway : Py_None, ENVIRONMENTS[environment]);
}

/* ---- a record's IDs (parse/ids.py's builtin_ids_in_python, for ASCII records) ----- */

/* The regexes of ids.py's _BUILTIN_SHAPES and _PLAUSIBLE_ID, read by hand on ASCII text,
 * where \w is [A-Za-z0-9_] and \d is [0-9]. Each is deterministic once written out: the
 * runs the regexes take are maximal, so what follows a run decides a match. */

static inline int id_char(unsigned char c) { return ascii_alnum(c) || c == '_' || c == '-'; }

/* The end of the run of [A-Za-z0-9] from `at`. */
static Py_ssize_t alnum_run(const char *t, Py_ssize_t at, Py_ssize_t size) {
    while (at < size && ascii_alnum((unsigned char)t[at])) at++;
    return at;
}

/* [A-Za-z0-9]{least,most}(?![\w-]) from `at`: the match's end, or -1. */
static Py_ssize_t alnum_id(const char *t, Py_ssize_t at, Py_ssize_t size, Py_ssize_t least,
                           Py_ssize_t most) {
    Py_ssize_t end = alnum_run(t, at, size);
    if (end - at < least || end - at > most || (end < size && id_char((unsigned char)t[end])))
        return -1;
    return end;
}

static inline int boundary_before(const char *t, Py_ssize_t at) {
    return at == 0 || !id_char((unsigned char)t[at - 1]); /* (?<![\w-]) */
}

static int add_id(PyObject *found, const char *t, Py_ssize_t start, Py_ssize_t end) {
    PyObject *id = PyUnicode_FromStringAndSize(t + start, end - start);
    if (id == NULL) return -1;
    int failed = PyDict_SetDefault(found, id, Py_None) == NULL;
    Py_DECREF(id);
    return failed ? -1 : 0;
}

/* (r(?<![\w-]r)eq_[A-Za-z0-9]{10,32})(?![\w-]), every match in order. */
static int request_shape(PyObject *found, const char *t, Py_ssize_t size) {
    for (Py_ssize_t at = 0; at + 4 <= size; at++) {
        const char *hit = memchr(t + at, 'r', (size_t)(size - at));
        if (hit == NULL) break;
        at = hit - t;
        if (!starts_with(t, at, size, "req_", 4) || !boundary_before(t, at)) continue;
        Py_ssize_t end = alnum_id(t, at + 4, size, 10, 32);
        if (end < 0) continue;
        if (add_id(found, t, at, end) < 0) return -1;
        at = end - 1;
    }
    return 0;
}

/* (?<![\w-])((?:ch|pi|py|in|re|cs_live|cs_test)_[A-Za-z0-9]{10,64})(?![\w-]): each
 * alternative has its first "_" third, so matches are looked for at each "_". */
static int stripe_shape(PyObject *found, const char *t, Py_ssize_t size) {
    static const char prefixes[][3] = {"ch", "pi", "py", "in", "re", "cs"};
    /* No two matches overlap: a start inside a match has an ID character before it. */
    for (Py_ssize_t u = 2; u < size; u++) {
        const char *hit = memchr(t + u, '_', (size_t)(size - u));
        if (hit == NULL) break;
        u = hit - t;
        Py_ssize_t start = u - 2, body = u + 1;
        if (!boundary_before(t, start)) continue;
        int known = 0;
        for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
            known |= memcmp(t + start, prefixes[i], 2) == 0;
        if (!known) continue;
        if (t[start + 1] == 's') { /* cs_live_ or cs_test_ */
            if (!starts_with(t, body, size, "live_", 5) && !starts_with(t, body, size, "test_", 5))
                continue;
            body += 5;
        }
        Py_ssize_t end = alnum_id(t, body, size, 10, 64);
        if (end < 0) continue;
        if (add_id(found, t, start, end) < 0) return -1;
    }
    return 0;
}

static int digits_at(const char *t, Py_ssize_t at, Py_ssize_t count) {
    for (Py_ssize_t i = 0; i < count; i++)
        if (!is_digit((unsigned char)t[at + i])) return 0;
    return 1;
}

/* ([SPBC](?<![\w-][SPBC])\d{2}-\d{7}-\d{7}(?:-[A-Z]\d{6})?)(?![\w-]): Amazon Pay's
 * reference IDs; the suffix counts only where what follows it is no ID character. */
static int amazon_shape(PyObject *found, const char *t, Py_ssize_t size) {
    for (Py_ssize_t at = 0; at + 19 <= size; at++) {
        char c = t[at];
        if (!(c == 'S' || c == 'P' || c == 'B' || c == 'C') || !boundary_before(t, at)) continue;
        if (!(digits_at(t, at + 1, 2) && t[at + 3] == '-' && digits_at(t, at + 4, 7) &&
              t[at + 11] == '-' && digits_at(t, at + 12, 7)))
            continue;
        Py_ssize_t end = at + 19;
        if (size - end >= 8 && t[end] == '-' && t[end + 1] >= 'A' && t[end + 1] <= 'Z' &&
            digits_at(t, end + 2, 6) && (end + 8 == size || !id_char((unsigned char)t[end + 8])))
            end += 8;
        else if (end < size && id_char((unsigned char)t[end]))
            continue;
        if (add_id(found, t, at, end) < 0) return -1;
        at = end - 1;
    }
    return 0;
}

static inline int is_word_at(const char *t, Py_ssize_t at, Py_ssize_t size) {
    return at >= 0 && at < size && word_char((unsigned char)t[at]);
}

/* ([A-Za-z0-9][\w-]{4,40}\d[\w-]*)\b at `at`, as the regex backtracks: the latest digit it
 * may take, then the longest run after it that ends at a word boundary. The end, or -1. */
static Py_ssize_t prose_id(const char *t, Py_ssize_t at, Py_ssize_t size) {
    if (at >= size || !ascii_alnum((unsigned char)t[at])) return -1;
    Py_ssize_t run = at + 1;
    while (run < size && id_char((unsigned char)t[run])) run++;
    Py_ssize_t last_digit = at + 41 < run - 1 ? at + 41 : run - 1;
    for (Py_ssize_t digit = last_digit; digit >= at + 5; digit--) {
        if (!is_digit((unsigned char)t[digit])) continue;
        for (Py_ssize_t end = run; end > digit; end--)
            if (is_word_at(t, end - 1, size) != is_word_at(t, end, size)) return end;
    }
    return -1;
}

/* [oO](?<!\w[oO])(?i:rder(?: id)?[ #:]+(ID))\b: an order named in prose. */
static int prose_order_shape(PyObject *found, const char *t, Py_ssize_t size) {
    for (Py_ssize_t at = 0; at + 5 < size; at++) {
        if (ascii_lower((unsigned char)t[at]) != 'o' || is_word_at(t, at - 1, size)) continue;
        const char *rest = "rder";
        int word = 1;
        for (int i = 0; i < 4; i++) word &= ascii_lower((unsigned char)t[at + 1 + i]) == rest[i];
        if (!word) continue;
        Py_ssize_t end = -1, start = at + 5;
        for (int with_id = 1; with_id >= 0 && end < 0; with_id--) { /* (?: id)? tries " id" */
            Py_ssize_t i = at + 5;
            if (with_id) {
                if (size - i < 3 || t[i] != ' ' || ascii_lower((unsigned char)t[i + 1]) != 'i' ||
                    ascii_lower((unsigned char)t[i + 2]) != 'd')
                    continue;
                i += 3;
            }
            Py_ssize_t separators = i;
            while (i < size && (t[i] == ' ' || t[i] == '#' || t[i] == ':')) i++;
            if (i == separators) continue;
            start = i;
            end = prose_id(t, start, size);
        }
        if (end < 0) continue;
        if (add_id(found, t, start, end) < 0) return -1;
        at = end - 1;
    }
    return 0;
}

/* _PLAUSIBLE_ID.match(value), ^[A-Za-z0-9][\w.:/-]{2,100}$, of an ASCII value; $ also
 * before a last newline. */
static int plausible_id(const char *t, Py_ssize_t size) {
    if (size > 0 && t[size - 1] == '\n') size--;
    if (size < 3 || size > 101 || !ascii_alnum((unsigned char)t[0])) return 0;
    for (Py_ssize_t i = 1; i < size; i++) {
        unsigned char c = (unsigned char)t[i];
        if (!(word_char(c) || c == '.' || c == ':' || c == '/' || c == '-')) return 0;
    }
    return 1;
}

/* The plausible IDs among `values` (a field's list) into `found`: 0, 1 for a value this
 * cannot read (a str not ASCII), or -1 with an exception. */
static int add_plausible(PyObject *found, PyObject *values) {
    if (!PyList_Check(values)) return 1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(values); i++) {
        PyObject *value = PyList_GET_ITEM(values, i);
        if (PyBool_Check(value)) continue;
        PyObject *text = PyUnicode_Check(value) ? Py_NewRef(value) : PyObject_Str(value);
        if (text == NULL) return -1;
        int status = 0;
        if (!PyUnicode_IS_ASCII(text))
            status = 1;
        else if (plausible_id((const char *)PyUnicode_1BYTE_DATA(text), PyUnicode_GET_LENGTH(text)))
            status = PyDict_SetDefault(found, text, Py_None) == NULL ? -1 : 0;
        Py_DECREF(text);
        if (status != 0) return status;
    }
    return 0;
}

typedef struct {
    Py_ssize_t rank;
    PyObject *values; /* borrowed */
} RankedField;

static int by_rank(const void *a, const void *b) {
    Py_ssize_t x = ((const RankedField *)a)->rank, y = ((const RankedField *)b)->rank;
    return (x > y) - (x < y);
}

/* The plausible IDs of the fields whose keys `ranks` ranks, lowest rank first. */
static int field_ids(PyObject *found, PyObject *fields, PyObject *ranks) {
    Py_ssize_t n = PyDict_GET_SIZE(fields), kept = 0, position = 0;
    RankedField *ranked = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(RankedField));
    if (ranked == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    PyObject *key, *values;
    while (PyDict_Next(fields, &position, &key, &values)) {
        PyObject *rank = PyDict_GetItemWithError(ranks, key);
        if (rank == NULL) {
            if (PyErr_Occurred()) break;
            continue;
        }
        ranked[kept] = (RankedField){PyLong_AsSsize_t(rank), values};
        if (ranked[kept++].rank == -1 && PyErr_Occurred()) break;
    }
    int status = PyErr_Occurred() ? -1 : 0;
    qsort(ranked, (size_t)kept, sizeof(RankedField), by_rank);
    for (Py_ssize_t i = 0; status == 0 && i < kept; i++) status = add_plausible(found, ranked[i].values);
    PyMem_Free(ranked);
    return status;
}

/* builtin_ids(text, fields, transaction_ranks, request_ranks): see _speedups.pyi. */
static PyObject *builtin_ids(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 4 || !PyUnicode_Check(args[0]) || !PyDict_Check(args[1]) ||
        !PyDict_Check(args[2]) || !PyDict_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError,
                        "builtin_ids(text, fields, transaction_ranks, request_ranks) takes a str "
                        "and three dicts");
        return NULL;
    }
    if (!PyUnicode_IS_ASCII(args[0])) Py_RETURN_NONE;
    const char *t = (const char *)PyUnicode_1BYTE_DATA(args[0]);
    Py_ssize_t size = PyUnicode_GET_LENGTH(args[0]);
    PyObject *transactions = PyDict_New(), *requests = PyDict_New();
    int status = transactions == NULL || requests == NULL ? -1 : 0;
    if (status == 0) status = field_ids(transactions, args[1], args[2]);
    if (status == 0) status = field_ids(requests, args[1], args[3]);
    if (status == 0) status = stripe_shape(transactions, t, size);
    if (status == 0) status = amazon_shape(transactions, t, size);
    if (status == 0) status = prose_order_shape(transactions, t, size);
    if (status == 0) status = request_shape(requests, t, size);
    if (status != 0) {
        Py_XDECREF(transactions);
        Py_XDECREF(requests);
        if (status < 0) return NULL;
        Py_RETURN_NONE;
    }
    return Py_BuildValue("(NN)", transactions, requests);
}

/* ---- label count cells (incidents/series.py's _encode and coarsened) ------------- */

/* LabelCounts pages are sorted cells `offset << 26 | label << 17 | count`, a count past
 * 17 bits taking more cells. encode_cells() packs a minute's or a page's totals (latency
 * packs one for every gateway's minute: a few dozen keys, 4.5 microseconds in Python).
 * coarsen_cells() halves every label: the cells that become one key are neighbours, so
 * one pass adds them up, where Python's loop over a month of minutes (two million cells)
 * took a second, twice, in merging the workers' latency histograms. */
#define CELL_COUNT_BITS 17
#define CELL_MAX_COUNT ((1u << CELL_COUNT_BITS) - 1)
#define CELL_LABEL_BITS 9
#define CELL_KEY_LIMIT (1LL << (32 - CELL_COUNT_BITS)) /* keys are offset << 9 | label */
#define CELL_MINUTE_SHIFT (CELL_LABEL_BITS + CELL_COUNT_BITS)
#define CELL_PAGE_BITS 6 /* a page holds 64 minutes */

/* One key's total as cells of at most CELL_MAX_COUNT, as series._encode writes it. */
static void put_cells(uint32_t *out, Py_ssize_t *size, uint32_t key, uint64_t total) {
    uint32_t base = key << CELL_COUNT_BITS;
    for (; total > CELL_MAX_COUNT; total -= CELL_MAX_COUNT) out[(*size)++] = base | CELL_MAX_COUNT;
    if (total) out[(*size)++] = base | (uint32_t)total;
}

typedef struct {
    uint32_t key;
    uint64_t total;
} KeyTotal;

static int by_key(const void *a, const void *b) {
    uint32_t x = ((const KeyTotal *)a)->key, y = ((const KeyTotal *)b)->key;
    return (x > y) - (x < y);
}

/* encode_cells(totals, shift=0): see _speedups.pyi. */
static PyObject *encode_cells(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *totals;
    long long shift = 0;
    if (!PyArg_ParseTuple(args, "O!|L:encode_cells", &PyDict_Type, &totals, &shift)) return NULL;
    if (shift <= -CELL_KEY_LIMIT || shift >= CELL_KEY_LIMIT) {
        PyErr_SetString(PyExc_OverflowError, "encode_cells: shift");
        return NULL;
    }
    Py_ssize_t n = PyDict_Size(totals), position = 0, i = 0, cells = 0;
    KeyTotal *pairs = PyMem_Malloc((n ? n : 1) * sizeof(KeyTotal));
    if (pairs == NULL) return PyErr_NoMemory();
    PyObject *key, *value;
    while (PyDict_Next(totals, &position, &key, &value)) {
        long long k = PyLong_AsLongLong(key);
        unsigned long long total = PyLong_AsUnsignedLongLong(value);
        if (k > -CELL_KEY_LIMIT && k < CELL_KEY_LIMIT) k += shift; /* else: no cell holds it */
        if (PyErr_Occurred() || k < 0 || k >= CELL_KEY_LIMIT) {
            PyMem_Free(pairs);
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_OverflowError, "encode_cells: key");
            return NULL;
        }
        pairs[i++] = (KeyTotal){(uint32_t)k, total};
        cells += (Py_ssize_t)((total + CELL_MAX_COUNT - 1) / CELL_MAX_COUNT);
    }
    qsort(pairs, n, sizeof(KeyTotal), by_key);
    PyObject *packed = PyBytes_FromStringAndSize(NULL, cells * 4);
    if (packed != NULL) {
        Py_ssize_t size = 0;
        for (i = 0; i < n; i++)
            put_cells((uint32_t *)PyBytes_AS_STRING(packed), &size, pairs[i].key, pairs[i].total);
    }
    PyMem_Free(pairs);
    return packed;
}

/* The buffer of a LabelCounts page, an array('I'): 0, or -1 with an exception. */
static int cells_view(PyObject *cells, Py_buffer *view, const char *who) {
    if (PyObject_GetBuffer(cells, view, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0) return -1;
    if (view->itemsize == 4 && view->format != NULL && strcmp(view->format, "I") == 0) return 0;
    PyBuffer_Release(view);
    PyErr_Format(PyExc_TypeError, "%s: cells must be an array('I')", who);
    return -1;
}

/* coarsen_cells(cells): see _speedups.pyi. */
static PyObject *coarsen_cells(PyObject *module, PyObject *cells) {
    (void)module;
    Py_buffer view;
    if (cells_view(cells, &view, "coarsen_cells") < 0) return NULL;
    const uint32_t *in = view.buf;
    Py_ssize_t n = view.len / 4, size = 0;
    /* Adding counts up never takes more cells than there were. */
    uint32_t *out = PyMem_Malloc((n ? n : 1) * sizeof(uint32_t));
    if (out == NULL) {
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    uint32_t current = 0, previous_key = 0;
    uint64_t total = 0;
    int failed = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint32_t key = in[i] >> CELL_COUNT_BITS;
        if (i && key < previous_key) {
            failed = 1;
            break;
        }
        previous_key = key;
        uint32_t label = key & ((1u << CELL_LABEL_BITS) - 1);
        uint32_t moved = (key >> CELL_LABEL_BITS << CELL_LABEL_BITS) | (label >> 1);
        if (i && moved != current) {
            put_cells(out, &size, current, total);
            total = 0;
        }
        current = moved;
        total += in[i] & CELL_MAX_COUNT;
    }
    PyBuffer_Release(&view);
    if (failed) {
        PyMem_Free(out);
        PyErr_SetString(PyExc_ValueError, "coarsen_cells: cells out of order");
        return NULL;
    }
    if (n) put_cells(out, &size, current, total);
    PyObject *packed = PyBytes_FromStringAndSize((const char *)out, size * 4);
    PyMem_Free(out);
    return packed;
}

/* ---- latency creep (LatencyDetector._episodes in incidents/latency.py) ----------- */

/* The rolling medians behind latency creep: the same walk as LatencyDetector._episodes,
 * which stays the reference (tests/test_creep_native.py holds the two to one answer). In
 * Python each minute of each gateway cost about 15 microseconds, and on a month of logs
 * that was seconds spent after the workers had finished, with one core idle. */

#define CREEP_LABELS 512 /* series.MAX_LABEL + 1 */

typedef struct {
    int64_t count;
    int32_t label;
} LabelCount;

typedef struct {
    LabelCount *pairs; /* by label, increasing */
    Py_ssize_t size;
    int64_t total;
} MinuteCounts;

typedef struct {
    int64_t counts[CREEP_LABELS];
    int64_t total;
    int32_t at;    /* the label the median was last found at */
    int64_t below; /* the count of the labels below `at` */
} RollingSpan;

typedef struct {
    int64_t window, baseline, min_samples, merge_gap, min_creep;
    double creep_factor, factor_now, min_increase;
    Py_ssize_t labels;           /* labels are 0 to labels - 1 */
    double values[CREEP_LABELS]; /* a label's milliseconds */
} CreepRules;

static void span_add(RollingSpan *span, const MinuteCounts *minute, int sign) {
    int64_t below = 0;
    for (Py_ssize_t i = 0; i < minute->size; i++) {
        int64_t count = sign * minute->pairs[i].count;
        span->counts[minute->pairs[i].label] += count;
        if (minute->pairs[i].label < span->at) below += count;
    }
    span->below += below;
    span->total += sign * minute->total;
}

/* The median label's value, 0.0 for an empty span: the lowest label whose running count
 * reaches half, found by walking on from where the last median was. */
static double span_median(RollingSpan *span, const CreepRules *rules) {
    if (span->total <= 0) return 0.0;
    int64_t rank = (span->total + 1) / 2;
    int32_t at = span->at;
    int64_t below = span->below;
    while (at < rules->labels - 1 && below + span->counts[at] < rank) below += span->counts[at++];
    while (at > 0 && below >= rank) below -= span->counts[--at];
    span->at = at;
    span->below = below;
    return rules->values[at];
}

/* quantile(minute, 0.5) of one minute's own counts. */
static double minute_median(const MinuteCounts *minute, const CreepRules *rules) {
    if (minute->total <= 0) return 0.0;
    int64_t rank = (minute->total + 1) / 2, seen = 0;
    for (Py_ssize_t i = 0; i < minute->size; i++) {
        seen += minute->pairs[i].count;
        if (seen >= rank) return rules->values[minute->pairs[i].label];
    }
    return rules->values[minute->pairs[minute->size - 1].label];
}

/* The histograms of a gateway's minutes, read in increasing order straight from its
 * LabelCounts pages: a list of (page number, cells), in page order. Making each minute a
 * dict for this walk (page_minutes()) took half of latency's conclusion. */
typedef struct {
    PyObject *pages;
    Py_ssize_t page;   /* the page in `view`, or -1 */
    int64_t number;    /* its page number */
    Py_buffer view;    /* its cells */
    Py_ssize_t cell;   /* the first cell not read */
} PageCursor;

static void cursor_release(PageCursor *cursor) {
    if (cursor->page >= 0) PyBuffer_Release(&cursor->view);
    cursor->page = -1;
}

/* Moves on to page `index` of the list, checking that it follows the last and that its
 * cells are sorted, as read_minute() takes them: 0, or -1 with an exception. */
static int cursor_open(PageCursor *cursor, Py_ssize_t index) {
    int64_t previous = cursor->page >= 0 ? cursor->number : INT64_MIN;
    cursor_release(cursor);
    PyObject *item = PyList_GET_ITEM(cursor->pages, index);
    long long number;
    PyObject *cells;
    if (!PyTuple_Check(item) || !PyArg_ParseTuple(item, "LO", &number, &cells)) {
        if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_SetString(PyExc_TypeError, "creep_episodes: pages are (number, cells) pairs");
        }
        return -1;
    }
    if (number <= previous) {
        PyErr_SetString(PyExc_ValueError, "creep_episodes: pages out of order");
        return -1;
    }
    if (cells_view(cells, &cursor->view, "creep_episodes") < 0) return -1;
    const uint32_t *in = cursor->view.buf;
    for (Py_ssize_t i = 1; i < cursor->view.len / 4; i++) {
        if (in[i] >> CELL_COUNT_BITS < in[i - 1] >> CELL_COUNT_BITS) {
            PyBuffer_Release(&cursor->view);
            PyErr_SetString(PyExc_ValueError, "creep_episodes: cells out of order");
            return -1;
        }
    }
    cursor->page = index;
    cursor->number = number;
    cursor->cell = 0;
    return 0;
}

/* The counts of `minute` as pairs sorted by label (none for a minute the pages lack), for
 * minutes asked in increasing order; -1 with an exception set if the pages are not
 * LabelCounts pages or hold a label without a value. */
static int read_minute(PageCursor *cursor, int64_t minute, MinuteCounts *found,
                       const CreepRules *rules) {
    int64_t number = minute >> CELL_PAGE_BITS;
    uint32_t offset = (uint32_t)(minute & ((1 << CELL_PAGE_BITS) - 1));
    found->size = 0;
    found->total = 0;
    found->pairs = NULL;
    Py_ssize_t pages = PyList_GET_SIZE(cursor->pages);
    while (cursor->page < 0 || cursor->number < number) {
        Py_ssize_t next = cursor->page + 1;
        if (next >= pages) return 0;
        if (cursor_open(cursor, next) < 0) return -1;
    }
    if (cursor->number != number) return 0;
    const uint32_t *cells = cursor->view.buf;
    Py_ssize_t n = cursor->view.len / 4, start = cursor->cell;
    while (start < n && cells[start] >> CELL_MINUTE_SHIFT < offset) start++;
    Py_ssize_t end = start;
    while (end < n && cells[end] >> CELL_MINUTE_SHIFT == offset) end++;
    cursor->cell = end;
    found->pairs = PyMem_Malloc((end > start ? end - start : 1) * sizeof(LabelCount));
    if (found->pairs == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = start; i < end; i++) {
        uint32_t key = cells[i] >> CELL_COUNT_BITS, count = cells[i] & CELL_MAX_COUNT;
        int32_t label = (int32_t)(key & ((1u << CELL_LABEL_BITS) - 1));
        if (label >= rules->labels) {
            PyErr_SetString(PyExc_ValueError, "creep_episodes: a label without a value");
            return -1;
        }
        if (found->size && found->pairs[found->size - 1].label == label)
            found->pairs[found->size - 1].count += count; /* a count spread over cells */
        else
            found->pairs[found->size++] = (LabelCount){count, label};
        found->total += count;
    }
    return 0;
}

static void drop_minute(MinuteCounts *minute) {
    PyMem_Free(minute->pairs);
    minute->pairs = NULL;
}

/* LatencyDetector._slow_minute: a minute already far above the baseline stays out of it. */
static int slow_minute(const MinuteCounts *minute, RollingSpan *baseline, const CreepRules *rules) {
    if (baseline->total < rules->min_samples) return 0;
    return minute_median(minute, rules) >= span_median(baseline, rules) * rules->creep_factor;
}

/* Appends (index, baseline median, window median) to the episode it belongs to: the last
 * one if its last creep is at most `merge_gap` + 1 minutes back, else a new one. */
static int add_creep(PyObject *episodes, const int64_t *minutes, Py_ssize_t index,
                     Py_ssize_t *last, double before, double now, const CreepRules *rules) {
    PyObject *creep = Py_BuildValue("(ndd)", index, before, now);
    if (creep == NULL) return -1;
    Py_ssize_t count = PyList_GET_SIZE(episodes);
    PyObject *episode;
    if (count && minutes[index] - minutes[*last] <= rules->merge_gap + 1) {
        episode = PyList_GET_ITEM(episodes, count - 1);
    } else {
        episode = PyList_New(0);
        if (episode == NULL || PyList_Append(episodes, episode) < 0) {
            Py_XDECREF(episode);
            Py_DECREF(creep);
            return -1;
        }
        Py_DECREF(episode); /* the list holds it */
    }
    *last = index;
    int failed = PyList_Append(episode, creep);
    Py_DECREF(creep);
    return failed;
}

/* The loop of _episodes over every minute; returns the episodes, long or not. */
static PyObject *walk_minutes(const int64_t *minutes, Py_ssize_t n, PyObject *pages,
                              const CreepRules *rules) {
    PageCursor cursor = {.pages = pages, .page = -1};
    MinuteCounts *held = PyMem_Calloc(n ? n : 1, sizeof(MinuteCounts));
    Py_ssize_t *in_window = PyMem_Malloc((n ? n : 1) * sizeof(Py_ssize_t));
    Py_ssize_t *in_baseline = PyMem_Malloc((n ? n : 1) * sizeof(Py_ssize_t));
    char *flagged = PyMem_Calloc(n ? n : 1, 1);
    RollingSpan *window = PyMem_Calloc(1, sizeof(RollingSpan));
    RollingSpan *baseline = PyMem_Calloc(1, sizeof(RollingSpan));
    PyObject *episodes = PyList_New(0);
    Py_ssize_t window_head = 0, window_tail = 0, baseline_head = 0, baseline_tail = 0, last = 0;
    int failed = held == NULL || in_window == NULL || in_baseline == NULL || flagged == NULL ||
                 window == NULL || baseline == NULL || episodes == NULL;
    if (failed && !PyErr_Occurred()) PyErr_NoMemory();
    for (Py_ssize_t index = 0; !failed && index < n; index++) {
        int64_t minute = minutes[index];
        if (index && minute <= minutes[index - 1]) {
            PyErr_SetString(PyExc_ValueError, "creep_episodes: minutes out of order");
            failed = 1;
            break;
        }
        failed = read_minute(&cursor, minute, &held[index], rules) < 0;
        if (failed) break;
        span_add(window, &held[index], 1);
        in_window[window_tail++] = index;
        while (window_head < window_tail &&
               minutes[in_window[window_head]] <= minute - rules->window) {
            Py_ssize_t old = in_window[window_head++];
            if (!flagged[old] && !slow_minute(&held[old], baseline, rules)) {
                span_add(window, &held[old], -1);
                span_add(baseline, &held[old], 1);
                in_baseline[baseline_tail++] = old;
            } else {
                span_add(window, &held[old], -1);
                drop_minute(&held[old]);
            }
        }
        int64_t oldest = minute - (rules->window + rules->baseline);
        while (baseline_head < baseline_tail && minutes[in_baseline[baseline_head]] < oldest) {
            Py_ssize_t old = in_baseline[baseline_head++];
            span_add(baseline, &held[old], -1);
            drop_minute(&held[old]);
        }
        if (window->total < rules->min_samples || baseline->total < rules->min_samples) continue;
        double before = span_median(baseline, rules), now = span_median(window, rules);
        if (now >= before * rules->factor_now && now - before >= rules->min_increase) {
            flagged[index] = 1;
            failed = add_creep(episodes, minutes, index, &last, before, now, rules) < 0;
        }
    }
    cursor_release(&cursor);
    for (Py_ssize_t i = 0; held != NULL && i < n; i++) drop_minute(&held[i]);
    PyMem_Free(held);
    PyMem_Free(in_window);
    PyMem_Free(in_baseline);
    PyMem_Free(flagged);
    PyMem_Free(window);
    PyMem_Free(baseline);
    if (failed) {
        Py_XDECREF(episodes);
        return NULL;
    }
    return episodes;
}

/* The values (milliseconds by label) into `rules`; -1 with an exception set if not. */
static int read_values(PyObject *values, CreepRules *rules) {
    PyObject *fast = PySequence_Fast(values, "creep_episodes: values must be a sequence");
    if (fast == NULL) return -1;
    rules->labels = PySequence_Fast_GET_SIZE(fast);
    int failed = rules->labels < 1 || rules->labels > CREEP_LABELS;
    if (failed) PyErr_SetString(PyExc_ValueError, "creep_episodes: 1 to 512 values");
    for (Py_ssize_t i = 0; !failed && i < rules->labels; i++) {
        rules->values[i] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(fast, i));
        failed = rules->values[i] == -1.0 && PyErr_Occurred();
    }
    Py_DECREF(fast);
    return failed ? -1 : 0;
}

/* creep_episodes(minutes, pages, values, rules): see _speedups.pyi. */
static PyObject *creep_episodes(PyObject *module, PyObject *args) {
    PyObject *minutes, *pages, *values;
    CreepRules rules;
    (void)module;
    if (!PyArg_ParseTuple(args, "OO!O(LLLLLddd)", &minutes, &PyList_Type, &pages, &values,
                          &rules.window, &rules.baseline, &rules.min_samples, &rules.merge_gap,
                          &rules.min_creep, &rules.creep_factor, &rules.factor_now,
                          &rules.min_increase) ||
        read_values(values, &rules) < 0)
        return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(minutes, &view, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0) return NULL;
    PyObject *episodes = NULL;
    if (view.itemsize != 8 || view.format == NULL || view.format[1] != '\0' ||
        (view.format[0] != 'q' && view.format[0] != 'l'))
        PyErr_SetString(PyExc_TypeError, "creep_episodes: minutes must be an array('q')");
    else
        episodes = walk_minutes(view.buf, view.len / 8, pages, &rules);
    PyBuffer_Release(&view);
    if (episodes == NULL) return NULL;
    /* Only the runs long enough to report. */
    PyObject *kept = PyList_New(0);
    for (Py_ssize_t i = 0; kept != NULL && i < PyList_GET_SIZE(episodes); i++) {
        PyObject *episode = PyList_GET_ITEM(episodes, i);
        if (PyList_GET_SIZE(episode) >= rules.min_creep && PyList_Append(kept, episode) < 0)
            Py_CLEAR(kept);
    }
    Py_DECREF(episodes);
    return kept;
}

/* ---- memory (ingest/chunks.py's keep_freed_chunks) ------------------------------- */

/* keep_freed_memory(mmap_threshold, trim_threshold): see _speedups.pyi. */
static PyObject *keep_freed_memory(PyObject *module, PyObject *args) {
    (void)module;
    int mmap_threshold, trim_threshold;
    if (!PyArg_ParseTuple(args, "ii:keep_freed_memory", &mmap_threshold, &trim_threshold))
        return NULL;
#ifdef __GLIBC__
    if (mallopt(M_MMAP_THRESHOLD, mmap_threshold) && mallopt(M_TRIM_THRESHOLD, trim_threshold))
        Py_RETURN_TRUE;
#else
    (void)mmap_threshold;
    (void)trim_threshold;
#endif
    Py_RETURN_FALSE;
}

static PyMethodDef module_functions[] = {
    {"count_newlines", count_newlines, METH_VARARGS,
     "count_newlines(data, start=0, end=len(data)): data.count(b'\\n', start, end)."},
    {"record_spans", record_spans, METH_VARARGS,
     "record_spans(chunk, first_line, hits, multiline, most_lines) -> [(start, end, line), ...] of "
     "the records around `hits`, as records.record_spans_in_python cuts them."},
    {"text_fields", text_fields, METH_VARARGS,
     "text_fields(text, fields) -> whether it added the key/value and XML fields of an "
     "ASCII record to `fields`, as fields._add_text_fields does."},
    {"text_facts", (PyCFunction)(void (*)(void))text_facts, METH_FASTCALL,
     "text_facts(text, lowered, gateways) -> (level word, status, gateway, environment) of "
     "an ASCII record, as event.text_facts_in_python reads them; None for other text."},
    {"builtin_ids", (PyCFunction)(void (*)(void))builtin_ids, METH_FASTCALL,
     "builtin_ids(text, fields, transaction_ranks, request_ranks) -> the (transaction, "
     "request) IDs of an ASCII record as dicts, as ids.builtin_ids_in_python finds them; "
     "None for other text or fields."},
    {"iso_time", (PyCFunction)(void (*)(void))iso_time, METH_FASTCALL,
     "iso_time(head, minute_of) -> the datetime of the first ISO 8601 time in an ASCII "
     "record's first 80 characters, None if it is no real time, False if there is none."},
    {"encode_cells", encode_cells, METH_VARARGS,
     "encode_cells(totals, shift=0) -> the bytes of the LabelCounts cells of `totals`, each "
     "key moved on by `shift`."},
    {"coarsen_cells", coarsen_cells, METH_O,
     "coarsen_cells(cells) -> the bytes of the LabelCounts cells with every label halved."},
    {"keep_freed_memory", keep_freed_memory, METH_VARARGS,
     "keep_freed_memory(mmap_threshold, trim_threshold) -> whether glibc's malloc now serves "
     "blocks below the first from its heap and keeps up to the second free at its top."},
    {"creep_episodes", creep_episodes, METH_VARARGS,
     "creep_episodes(minutes, pages, values, rules) -> the latency creep episodes, as "
     "LatencyDetector._episodes finds them: lists of (index, baseline, median)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "paydiag._speedups",
    .m_doc = "Optional C forms of paydiag's hottest loops; pure-Python references in the package.",
    .m_size = -1,
    .m_methods = module_functions,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) return NULL;
    if (PyType_Ready(&ScannerType) < 0 || PyType_Ready(&LiteralScannerType) < 0) return NULL;
    init_field_classes();
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "ActivityScanner", (PyObject *)&ScannerType) < 0 ||
        PyModule_AddObjectRef(m, "LiteralScanner", (PyObject *)&LiteralScannerType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
