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
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* What a word is: the same numbers as activity.py's _GATEWAY ... _DURATION. */
enum { K_GATEWAY, K_STAGE, K_ENVIRONMENT, K_TRANSACTION, K_REQUEST, K_SHAPE, K_DURATION };

/* Character classes of a latin-1 character, as Python's re and str see them. */
enum { C_WORD = 1, C_SPACE = 2, C_DIGIT = 4, C_ISALNUM = 8, C_ISDIGIT = 16 };

#define MAX_BITS 64 /* gateways and stages are bits of a uint64_t */

typedef struct {
    PyObject_HEAD
    int32_t states;
    int32_t classes;
    unsigned char byte_class[256]; /* byte (before lowering) -> automaton input class */
    unsigned char flags[256];      /* byte -> C_* flags */
    int32_t *delta;                /* states x classes: the full transition table */
    int32_t *out_start;            /* per state: where its words start in `outs` */
    int32_t *out_count;
    int32_t *outs;                 /* word indexes, longest first at each state */
    unsigned char *word_kind;
    int32_t *word_value;
    PyObject *gateways;     /* tuple of str, by value (sorted, so the lowest bit is min()) */
    PyObject *stages;       /* tuple of str, by rank (most final first) */
    PyObject *environments; /* tuple of str */
    long shape_rank;        /* the rank of an ID found by its shape (after every key) */
} Scanner;

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
static int build_automaton(Scanner *self, PyObject *words) {
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
    self->classes = classes;

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

/* _NUMBER: ["']?\s{0,3}[:=]?\s{0,3}["']?(\d+(?:\.\d+)?)(ms|s)?
 * The digits start at the first byte that can be no part of the prefix. Returns 1 and the
 * duration in milliseconds, or 0 for no number. */
static int duration(const Line *line, Py_ssize_t i, int seconds, double *ms) {
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
    if (end + 1 < line->stop && t[end] == '.' && has(line, end + 1, C_DIGIT)) {
        end++;
        while (end < line->stop && has(line, end, C_DIGIT)) end++;
    }
    if (end + 1 < line->stop && t[end] == 'm' && t[end + 1] == 's')
        seconds = 0;
    else if (end < line->stop && t[end] == 's')
        seconds = 1;
    char small[64];
    size_t len = (size_t)(end - digits);
    char *number = len < sizeof small ? small : PyMem_Malloc(len + 1);
    if (number == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(number, t + digits, len);
    number[len] = '\0';
    double value = PyOS_string_to_double(number, NULL, NULL);
    if (number != small) PyMem_Free(number);
    if (value == -1.0 && PyErr_Occurred()) return -1;
    *ms = seconds ? value * 1000 : value;
    return 1;
}

/* ---- one activity line's facts --------------------------------------------------- */

typedef struct {
    PyObject *transactions; /* dict: id -> rank, first rank kept */
    PyObject *requests;     /* dict: id -> None, for insertion order */
    int has_duration;
    double duration_ms;
} Facts;

static PyObject *decode_value(const Line *line, Py_ssize_t start, Py_ssize_t end) {
    return PyUnicode_DecodeUTF8((const char *)line->text + start, end - start, "replace");
}

static int note(PyObject **dict, PyObject *key, PyObject *value) {
    if (*dict == NULL && (*dict = PyDict_New()) == NULL) return -1;
    PyObject *kept = PyDict_SetDefault(*dict, key, value);
    return kept == NULL ? -1 : 0;
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
    PyObject *value = decode_value(line, start, value_end);
    if (value == NULL) return -1;
    int status;
    if (read->kind == K_REQUEST) {
        status = note(&facts->requests, value, Py_None);
    } else {
        PyObject *rank = PyLong_FromLong(read->value);
        status = rank == NULL ? -1 : note(&facts->transactions, value, rank);
        Py_XDECREF(rank);
    }
    Py_DECREF(value);
    (void)self;
    return status;
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
    PyObject *value = decode_value(line, start, end);
    if (value == NULL) return -1;
    int status;
    if (end - start >= 4 && memcmp(t + start, "req_", 4) == 0) {
        status = note(&facts->requests, value, Py_None);
    } else {
        PyObject *rank = PyLong_FromLong(self->shape_rank);
        status = rank == NULL ? -1 : note(&facts->transactions, value, rank);
        Py_XDECREF(rank);
    }
    Py_DECREF(value);
    return status;
}

/* The transaction IDs, the most order-like (lowest rank) first, ties in line order. */
static PyObject *ranked_ids(Scanner *self, PyObject *transactions) {
    Py_ssize_t count = transactions ? PyDict_GET_SIZE(transactions) : 0;
    PyObject *ids = PyTuple_New(count);
    if (ids == NULL || count == 0) return ids;
    Py_ssize_t filled = 0;
    for (long rank = 0; rank <= self->shape_rank && filled < count; rank++) {
        Py_ssize_t position = 0;
        PyObject *key, *value;
        while (PyDict_Next(transactions, &position, &key, &value)) {
            if (PyLong_AsLong(value) == rank) {
                Py_INCREF(key);
                PyTuple_SET_ITEM(ids, filled++, key);
            }
        }
    }
    if (filled != count) { /* a rank out of range: cannot happen with ActivityScanner's words */
        Py_DECREF(ids);
        PyErr_SetString(PyExc_ValueError, "transaction rank out of range");
        return NULL;
    }
    return ids;
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
    int lowest = __builtin_ctzll(bits);
    PyObject *name = PyTuple_GET_ITEM(names, lowest);
    Py_INCREF(name);
    return name;
}

/* The (start, gateway, stage, environment, duration_ms, transaction_ids, request_ids) of
 * an activity line: activity.py's _facts. */
static PyObject *line_facts(Scanner *self, const Line *line, Py_ssize_t line_start,
                            uint64_t gateways, uint64_t stages, int environment,
                            const Reads *reads) {
    Facts facts = {NULL, NULL, 0, 0.0};
    PyObject *result = NULL;
    for (Py_ssize_t i = 0; i < reads->len; i++) {
        const Read *read = &reads->items[i];
        int status = 0;
        if (read->kind == K_DURATION) {
            if (!facts.has_duration) {
                status = duration(line, read->end + 1, read->value, &facts.duration_ms);
                if (status == 1) facts.has_duration = 1;
            }
        } else if (read->kind == K_SHAPE) {
            status = note_shape(self, &facts, line, read);
        } else {
            status = note_id(self, &facts, line, read);
        }
        if (status < 0) goto done;
    }
    PyObject *fields[7] = {
        PyLong_FromSsize_t(line_start),
        name_of(self->gateways, gateways),
        name_of(self->stages, stages),
        environment < 0 ? Py_NewRef(Py_None)
                        : Py_NewRef(PyTuple_GET_ITEM(self->environments, environment)),
        facts.has_duration ? PyFloat_FromDouble(facts.duration_ms) : Py_NewRef(Py_None),
        ranked_ids(self, facts.transactions),
        dict_keys_tuple(facts.requests),
    };
    result = PyTuple_New(7);
    for (int k = 0; k < 7; k++) {
        if (fields[k] == NULL || result == NULL) {
            for (int j = 0; j < 7; j++) Py_XDECREF(fields[j]);
            Py_CLEAR(result);
            break;
        }
    }
    if (result != NULL)
        for (int k = 0; k < 7; k++) PyTuple_SET_ITEM(result, k, fields[k]);
done:
    Py_XDECREF(facts.transactions);
    Py_XDECREF(facts.requests);
    return result;
}

/* ---- the scan -------------------------------------------------------------------- */

static PyObject *Scanner_scan(Scanner *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    const unsigned char *text = view.buf;
    Py_ssize_t size = view.len;
    PyObject *lines = PyList_New(0);
    Reads reads = {NULL, 0, 0};
    if (lines == NULL) goto fail;
    Line line = {text, size, -1, self->flags};
    Py_ssize_t line_start = 0, last_newline = -1;
    uint64_t gateways = 0, stages = 0;
    int environment = -1;
    int32_t state = 0;
    const int32_t classes = self->classes;
    for (Py_ssize_t i = 0; i < size; i++) {
        unsigned char byte = text[i];
        if (byte == '\n') last_newline = i;
        state = self->delta[(size_t)state * classes + self->byte_class[byte]];
        int32_t count = self->out_count[state];
        if (count == 0) continue;
        if (i > line.stop) { /* the first hit on a new line: the last one is complete */
            if (gateways || stages) {
                PyObject *facts =
                    line_facts(self, &line, line_start, gateways, stages, environment, &reads);
                if (facts == NULL || PyList_Append(lines, facts) < 0) {
                    Py_XDECREF(facts);
                    goto fail;
                }
                Py_DECREF(facts);
                gateways = stages = 0;
            }
            environment = -1;
            reads.len = 0;
            line_start = last_newline + 1;
            const unsigned char *newline = memchr(text + i, '\n', (size_t)(size - i));
            line.stop = newline ? newline - text : size;
        }
        const int32_t *words = self->outs + self->out_start[state];
        for (int32_t k = 0; k < count; k++) {
            int32_t word = words[k];
            int32_t value = self->word_value[word];
            switch (self->word_kind[word]) {
            case K_GATEWAY:
                gateways |= (uint64_t)1 << value;
                break;
            case K_STAGE:
                stages |= (uint64_t)1 << value;
                break;
            case K_ENVIRONMENT:
                if (environment < 0) environment = value;
                break;
            default:
                if (reads_push(&reads, self->word_kind[word], value, i) < 0) goto fail;
            }
        }
    }
    if (gateways || stages) {
        PyObject *facts = line_facts(self, &line, line_start, gateways, stages, environment, &reads);
        if (facts == NULL || PyList_Append(lines, facts) < 0) {
            Py_XDECREF(facts);
            goto fail;
        }
        Py_DECREF(facts);
    }
    PyMem_Free(reads.items);
    PyBuffer_Release(&view);
    return lines;
fail:
    PyMem_Free(reads.items);
    Py_XDECREF(lines);
    PyBuffer_Release(&view);
    return NULL;
}

/* ---- the type -------------------------------------------------------------------- */

static int check_names(PyObject *names, const char *what) {
    if (!PyTuple_Check(names) || PyTuple_GET_SIZE(names) > MAX_BITS) {
        PyErr_Format(PyExc_ValueError, "%s: a tuple of at most %d names", what, MAX_BITS);
        return -1;
    }
    return 0;
}

static int check_words(PyObject *words, Py_ssize_t gateways, Py_ssize_t stages,
                       Py_ssize_t environments) {
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
        long kind = PyLong_AsLong(PyTuple_GET_ITEM(entry, 1));
        long value = PyLong_AsLong(PyTuple_GET_ITEM(entry, 2));
        long limit = kind == K_GATEWAY       ? (long)gateways
                     : kind == K_STAGE       ? (long)stages
                     : kind == K_ENVIRONMENT ? (long)environments
                                             : INT32_MAX;
        if (PyErr_Occurred()) return -1;
        if (kind < K_GATEWAY || kind > K_DURATION || value < 0 || value >= limit) {
            PyErr_Format(PyExc_ValueError, "words[%zd]: kind %ld or value %ld out of range", i,
                         kind, value);
            return -1;
        }
    }
    return 0;
}

static int Scanner_init(Scanner *self, PyObject *args, PyObject *kwds) {
    static char *keywords[] = {"words",     "gateways",   "stages", "environments",
                               "flags",     "shape_rank", NULL};
    PyObject *words, *gateways, *stages, *environments;
    Py_buffer flags;
    long shape_rank;
    if (self->delta != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "ActivityScanner is already initialised");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOy*l", keywords, &words, &gateways, &stages,
                                     &environments, &flags, &shape_rank))
        return -1;
    int status = -1;
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
                    PyTuple_GET_SIZE(environments)) < 0)
        goto done;
    memcpy(self->flags, flags.buf, 256);
    self->shape_rank = shape_rank;
    Py_XSETREF(self->gateways, Py_NewRef(gateways));
    Py_XSETREF(self->stages, Py_NewRef(stages));
    Py_XSETREF(self->environments, Py_NewRef(environments));
    status = build_automaton(self, words);
done:
    PyBuffer_Release(&flags);
    return status;
}

static void Scanner_dealloc(Scanner *self) {
    PyMem_Free(self->delta);
    PyMem_Free(self->out_start);
    PyMem_Free(self->out_count);
    PyMem_Free(self->outs);
    PyMem_Free(self->word_kind);
    PyMem_Free(self->word_value);
    Py_XDECREF(self->gateways);
    Py_XDECREF(self->stages);
    Py_XDECREF(self->environments);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Scanner_scan_checked(Scanner *self, PyObject *arg) {
    if (self->delta == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "ActivityScanner is not initialised");
        return NULL;
    }
    return Scanner_scan(self, arg);
}

static PyMethodDef Scanner_methods[] = {
    {"scan", (PyCFunction)Scanner_scan_checked, METH_O,
     "scan(chunk) -> [(start, gateway, stage, environment, duration_ms, transaction_ids, "
     "request_ids)] for every line with a gateway marker or lifecycle word."},
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

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "paydiag._speedups",
    "Optional C forms of paydiag's hottest loops; pure-Python references in the package.", -1,
    NULL,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    if (PyType_Ready(&ScannerType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "ActivityScanner", (PyObject *)&ScannerType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
