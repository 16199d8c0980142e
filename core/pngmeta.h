/*
 * pngmeta.h: reading and adding PNG text chunks without decoding the image.
 *
 * Works on the PNG bytes in memory: checks the chunk structure (signature,
 * IHDR first, lengths within the buffer, CRCs, IEND), finds tEXt/zTXt/iTXt
 * keywords and inserts a new text chunk right after IHDR. The image data is
 * never touched, so the worker's pixels are kept byte for byte.
 */
#ifndef SDQ_PNGMETA_H
#define SDQ_PNGMETA_H

#include <stddef.h>

/* 1 if png holds a valid chunk structure, 0 if not (truncated, a bad CRC, no
 * IHDR first, no IEND). Bytes after IEND are allowed. */
int pngmeta_valid(const unsigned char *png, size_t len);

/* 1 if a tEXt, zTXt or iTXt chunk has this keyword (case-sensitive, as PNG
 * says), 0 if none has, -1 if png is not a valid PNG. */
int pngmeta_has_text(const unsigned char *png, size_t len, const char *keyword);

/* Copy png into a new malloc'd buffer (*out, *outlen; the caller frees it)
 * with a text chunk keyword=text inserted right after IHDR: tEXt when text is
 * Latin-1 (UTF-8 text whose code points are all below 256 is converted), iTXt
 * (UTF-8, uncompressed) otherwise. keyword: 1-79 printable Latin-1 bytes.
 * 0, or -1 (png invalid, bad keyword, text with a NUL, ENOMEM) leaving *out
 * untouched. */
int pngmeta_add_text(const unsigned char *png, size_t len, const char *keyword, const char *text,
                     unsigned char **out, size_t *outlen);

/* Width and height from IHDR. 0, or -1 if png is not a valid PNG. */
int pngmeta_size(const unsigned char *png, size_t len, int *width, int *height);

#endif
