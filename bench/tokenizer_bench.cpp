// Tokenizer encoding speed (issue 3 target: >= 5 MB/s of English text per core with the
// Llama 3 vocabulary). Reports bytes/s of input text; single-threaded.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace {

const std::string kShared = std::string(POCKET_SOURCE_DIR) + "/../shared";

std::string english_text(size_t bytes) {
  // Varied English prose with punctuation, numbers and newlines.
  const char* sentences[] = {
      "Once upon a time, there was a little girl named Lily who loved to play outside. ",
      "The quick brown fox jumps over the lazy dog; it's said they'd trained for years! ",
      "In 1969, astronauts landed on the Moon, and 600 million people watched on TV.\n",
      "Tokenizers split text into pieces: words, sub-words, digits and punctuation marks. ",
      "\"Where are you going?\" she asked. \"To the market,\" he replied, smiling.\n\n",
  };
  std::string text;
  for (size_t i = 0; text.size() < bytes; i = (i * 7 + 3) % 5) text += sentences[i];
  text.resize(bytes);
  return text;
}

void encode_bench(benchmark::State& state, const std::string& model, bool parse_special) {
  const auto file = pocket::gguf::File::open(kShared + model);
  const auto tok = pocket::Tokenizer::from_gguf(file);
  const std::string text = english_text(static_cast<size_t>(state.range(0)));
  size_t n_tokens = 0;
  for (auto _ : state) {
    const auto ids = tok->encode(text, false, parse_special);
    n_tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(text.size()));
  state.counters["tokens"] = static_cast<double>(n_tokens);
}

void BM_EncodeLlama3(benchmark::State& state) {
  encode_bench(state, "/models/llama3-bpe-f16-q4_0embd.gguf", false);
}
void BM_EncodeLlama3ParseSpecial(benchmark::State& state) {
  encode_bench(state, "/models/llama3-bpe-f16-q4_0embd.gguf", true);
}
void BM_EncodeQwen2(benchmark::State& state) {
  encode_bench(state, "/models/qwen2-f16-q4_0embd.gguf", false);
}
void BM_EncodeLlamaSpm(benchmark::State& state) {
  encode_bench(state, "/vocab/ggml-vocab-llama-spm.gguf", false);
}
void BM_EncodeBert(benchmark::State& state) {
  encode_bench(state, "/vocab/ggml-vocab-bert-bge.gguf", false);
}

void BM_LoadLlama3(benchmark::State& state) {
  const auto file = pocket::gguf::File::open(kShared + "/models/llama3-bpe-f16-q4_0embd.gguf");
  for (auto _ : state) benchmark::DoNotOptimize(pocket::Tokenizer::from_gguf(file).get());
}

BENCHMARK(BM_EncodeLlama3)->Arg(1 << 20)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EncodeLlama3ParseSpecial)->Arg(1 << 20)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EncodeQwen2)->Arg(1 << 20)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EncodeLlamaSpm)->Arg(1 << 20)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EncodeBert)->Arg(1 << 20)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LoadLlama3)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
