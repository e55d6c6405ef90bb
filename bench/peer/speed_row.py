#!/usr/bin/env python3
"""One Markdown row of bench/vs_llamacpp.sh: qforge's and llama.cpp's speed JSON, the weight bytes one
decode step reads and the read bandwidth measured in the same run -> ratios and GB/s."""
import json
import sys


def main() -> int:
    qf = json.loads(sys.argv[1])["speed"]
    lc = json.loads(sys.argv[2])
    weights, bw, name = int(sys.argv[3]), float(sys.argv[4]), sys.argv[5].split("/")[-1]
    if qf is None:
        sys.exit("qforge eval reported no speed")
    if qf["prompt_tokens"] != lc["prompt_tokens"] or qf["gen_tokens"] != lc["gen_tokens"]:
        sys.exit(f"{name}: lengths differ: qforge {qf['prompt_tokens']}/{qf['gen_tokens']}, "
                 f"llama.cpp {lc['prompt_tokens']}/{lc['gen_tokens']}")
    qgb, lgb = weights * qf["decode_tps"] / 1e9, weights * lc["decode_tps"] / 1e9
    print(f"| {name} | {weights / 1e6:.1f} | {qf['prefill_tps']:.1f} | {lc['prefill_tps']:.1f} | "
          f"{qf['prefill_tps'] / lc['prefill_tps']:.2f}x | {qf['decode_tps']:.2f} | {lc['decode_tps']:.2f} | "
          f"{qf['decode_tps'] / lc['decode_tps']:.2f}x | {qgb:.2f} ({100 * qgb / bw:.0f}%) | {lgb:.2f} ({100 * lgb / bw:.0f}%) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
