#!/usr/bin/env python3
"""Write tests/fixtures/clip_tokens_extra.json: CLIP's own token ids for text that
exercises the cleaning and pre-tokenizing corners of finepose's C++ tokenizer
(HTML entities, ftfy fixes, Unicode case and classes, NFC, special tokens).

Needs CLIP's tokenizer module and its dependencies (pip install ftfy regex); nothing
of it is copied here, it is imported from a CLIP checkout:

    python tools/reference/gen_clip_tokens.py \
        --clip-src /path/to/CLIP/clip --vocab /path/to/bpe_simple_vocab_16e6.txt.gz

Texts whose expected ids would rest on ftfy's mojibake repair (which the C++ side
leaves out on purpose) are not listed.
"""
import argparse
import json
import os
import sys

TEXTS = [
    # HTML entities: ftfy's pass, then html.unescape twice
    "Tom &amp; Jerry", "&amp;amp;amp;lt;", "&lt;b&gt;bold&lt;/b&gt;", "caf&eacute; &EACUTE; &#233; &#xE9;",
    "a < b &amp;amp; c", "&notit; &ampx &#0; &#x80;", "&#59; semicolon",
    # ftfy fixes
    "\u201cquoted\u201d it\u2019s", "\ufb01ne \ufb02ow", "\uff21\uff22\uff23\u3000\uff11\uff12", "\x1b[31mred\x1b[0m text",
    "a\x00b\x07c\ufeffd", "\x93smart\x94 \x85", "line one\r\nline two\rthree\u2028four",
    # Unicode
    "Caf\u00e9 NA\u00cfVE \u00c0 la carte", "e\u0301cole cafe\u0301", "\u0130stanbul", "\u039f\u0394\u039f\u03a3 \u03a3\u039f\u03a6\u039f\u03a3",
    "\u041c\u043e\u0441\u043a\u0432\u0430 \u0420\u041e\u0421\u0421\u0418\u042f", "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8", "\ud55c\uad6d\uc5b4",
    "emoji \U0001F600\U0001F44D\U0001F3FD!", "\u2160\u00b2 3\u00bd x\u2082", "tab\u00a0nbsp\u2003em\u3000ideo",
    # pre-tokenizer
    "<|startoftext|>hi<|endoftext|>", "x!<|endoftext|>", "WE'RE I'VE I'M WE'LL HE'D", "!?'s ''s",
    "\u017f'\u017f", "\u1f73\u0345 x\u0345! \u0323\u0345\u0300", "3.14159 and 1,000,000", "snake_case-and-kebab", "    ", "",
    # BPE
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "pneumonoultramicroscopicsilicovolcanoconiosis",
    "abababababababababababababababa", "ssssssssssssssssssssss esesesesesesesesesesesesesesesesese",
]


def long_word(n, seed=12345):
    """n pseudo-random letters (a fixed LCG): one pre-token far past 77 tokens."""
    out, x = [], seed
    for _ in range(n):
        x = (1103515245 * x + 12345) % 2**31
        out.append("abcdefghijklmnopqrstuvwxyz"[(x >> 16) % 26])
    return "".join(out)


# clip.tokenize(truncate=True) ids: SOT + the first 75 + EOT
LONG_TEXTS = [long_word(3000), "x " + long_word(500, 7) + " y"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clip-src", required=True, help="directory holding CLIP's simple_tokenizer.py")
    ap.add_argument("--vocab", required=True, help="bpe_simple_vocab_16e6.txt.gz")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures",
                                                  "clip_tokens_extra.json"))
    args = ap.parse_args()
    sys.path.insert(0, args.clip_src)
    from simple_tokenizer import SimpleTokenizer  # noqa: E402

    tok = SimpleTokenizer(args.vocab)
    sot, eot = tok.encoder["<|startoftext|>"], tok.encoder["<|endoftext|>"]
    out = {}
    for t in TEXTS:
        ids = [sot] + tok.encode(t) + [eot]
        assert len(ids) <= 77, t
        out[t] = ids
    for t in LONG_TEXTS:
        ids = [sot] + tok.encode(t) + [eot]
        assert len(ids) > 77, t
        out[t] = ids[:76] + [eot]
    with open(args.out, "w", encoding="ascii") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.relpath(args.out)} ({len(out)} texts)")


if __name__ == "__main__":
    main()
