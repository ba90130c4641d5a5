/*
 * ui_names.h - patients' names for the web UI's patient search (ui_names.c;
 * docs/formats/ui-api.md §2, READ-01).  Pure functions of their input: no
 * vault, no clock; fuzzed by tests/fuzz/fuzz_uinames.c.
 */
#ifndef KURA_SERVE_UI_NAMES_H
#define KURA_SERVE_UI_NAMES_H

#include <jansson.h>

/* A folded name or query: at most this many bytes with its NUL. */
#define KURA_UI_FOLD_MAX 1024u

/* s (UTF-8, NULL is "") in the form names are compared in: katakana as
 * hiragana, full-width ASCII as ASCII, Latin letters lowercase, spaces
 * (ASCII, U+3000), the middle dot U+30FB and control characters left out.  Invalid UTF-8
 * becomes U+FFFD; what does not fit in out is cut at a character. */
void kura_ui_fold(const char *s, char out[KURA_UI_FOLD_MAX]);
/* 1 if the FHIR HumanName n (text, family, a given name, or family and
 * given joined) contains the folded query fq (not ""), else 0. */
int kura_ui_name_matches(const json_t *n, const char *fq);
/* {"kanji", "kana", "romaji", "text"} of a Patient resource's names: the
 * first name of each JP Core representation, and the first name's text. */
json_t *kura_ui_names_json(const json_t *res);

#endif
