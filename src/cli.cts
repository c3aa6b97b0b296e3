#!/usr/bin/env node
// The `switchyard` command. It sets process-wide defaults that must be in place before Node.js
// loads any ES module, then runs the command line (main.ts). CommonJS on purpose: loading ES
// modules already starts libuv's thread pool, whose size is read once, when it starts.
//
// UV_THREADPOOL_SIZE = 1. node-llama-cpp decodes and samples on libuv's thread pool. With the
// default four threads, one decode runs on one pool thread and the next on another, each with
// llama.cpp compute threads of its own, and on a small machine the idle ones take the cores from
// the busy ones. Measured on 2 cores, llama.cpp at 2 threads, 58M-parameter model: one stream 104
// tokens/s with four pool threads and 244 with one; four streams 128 and 295. One pool thread keeps
// every decode on the same threads. Its price: other pool work waits for the decode in progress
// (file reads, DNS lookups), and a GGUF model being loaded holds the pool for its load, pausing
// generation meanwhile. An operator who prefers otherwise sets UV_THREADPOOL_SIZE.
process.env.UV_THREADPOOL_SIZE ??= '1';
void import('./main.js');
