/*
 * banned.h - functions kura must not use (STYLE.md rule 8).
 *
 * Include it last in every .c file under src/, after all system headers, so
 * that a use of a banned function is a compile error.  scripts/checksrc
 * checks that every source file includes it and greps for the names too.
 */
#ifndef KURA_UTIL_BANNED_H
#define KURA_UTIL_BANNED_H

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef atoi
#define atoi(x) BANNED(atoi)
#undef atol
#define atol(x) BANNED(atol)
#undef sscanf
#define sscanf(...) BANNED(sscanf)
#undef gets
#define gets(x) BANNED(gets)
#undef gmtime
#define gmtime(x) BANNED(gmtime)
#undef localtime
#define localtime(x) BANNED(localtime)
#undef ctime
#define ctime(x) BANNED(ctime)
#undef mktemp
#define mktemp(x) BANNED(mktemp)
#undef rand
#define rand() BANNED(rand)

#endif
