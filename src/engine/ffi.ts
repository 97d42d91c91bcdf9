/**
 * Raw FFI binding of the ggml C API shipped (prebuilt) in `@node-llama-cpp/linux-x64@3.22.1`.
 *
 * Signatures follow the headers of that exact build (llama.cpp de3ff81, node-llama-cpp tag "v0.5.0"); the
 * package is pinned in package.json because a mismatch here is memory corruption, not an error.
 * Nothing outside engine/ imports this file: callers go through the shape-checked wrappers in ops.ts,
 * because a failed ggml assertion calls abort() and kills the process.
 */
import koffi from 'koffi';
import path from 'node:path';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { GrpoError } from '../errors.ts';

/** koffi 3 returns pointers as BigInt. */
export type Ptr = bigint;

/** The GPU builds of the same ggml, best first; `npm run install:vulkan` / `install:cuda` put them in gpu/. */
const GPU_BUILDS = ['cuda', 'vulkan'];
const PACKAGE_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

/** bins/<platform>/ of an installed @node-llama-cpp package (its `exports` hide package.json: go from its main entry) */
function binsOf(pkg: string, from: string): string | null {
  try {
    const main = createRequire(from).resolve(pkg);
    const bins = path.join(path.dirname(path.dirname(main)), 'bins');
    const dir = fs.readdirSync(bins).find((d) => fs.existsSync(path.join(bins, d, 'libggml-base.so')));
    return dir ? path.join(bins, dir) : null;
  } catch {
    return null;
  }
}

/**
 * Where the ggml libraries come from: GRPO_GGML_DIR; else a GPU build when one is installed (it holds the same
 * CPU backends too) unless GRPO_DEVICE=cpu; else the CPU build that `npm install` brings.
 */
function locateBinDir(): string {
  if (process.env.GRPO_GGML_DIR) return process.env.GRPO_GGML_DIR;
  if (process.env.GRPO_DEVICE !== 'cpu') {
    for (const kind of GPU_BUILDS) {
      const pkg = `@node-llama-cpp/linux-x64-${kind}`;
      const dir = binsOf(pkg, path.join(PACKAGE_ROOT, 'gpu', 'package.json')) ?? binsOf(pkg, import.meta.url);
      if (dir) return dir;
    }
  }
  const dir = binsOf('@node-llama-cpp/linux-x64', import.meta.url);
  if (!dir)
    throw new GrpoError(
      'engine',
      'cannot find the ggml binaries: install the pinned dependency with `npm install` (package @node-llama-cpp/linux-x64), or point GRPO_GGML_DIR at a folder holding libggml-base.so',
    );
  return dir;
}

export const GGML_BIN_DIR = locateBinDir();
const baseLib = path.join(GGML_BIN_DIR, 'libggml-base.so');
const regLib = fs.readdirSync(GGML_BIN_DIR).find((f) => /^libggml\.([a-z]+\.)?v[\d.]+\.so$/.test(f)) ?? 'libggml.so'; // libggml.v0.5.0.so, libggml.vulkan.v0.5.0.so
if (!fs.existsSync(baseLib))
  throw new GrpoError('engine', `ggml library not found at ${baseLib}; reinstall with \`npm install\``);

koffi.opaque('ggml_context');
koffi.opaque('ggml_tensor');
koffi.opaque('ggml_cgraph');
koffi.opaque('ggml_gallocr');
koffi.opaque('ggml_backend_sched');
koffi.opaque('ggml_backend');
koffi.opaque('ggml_backend_buffer');
koffi.opaque('ggml_backend_buffer_type');
koffi.opaque('ggml_backend_device');
koffi.opaque('ggml_backend_reg');
/** Passed by value to ggml_init. */
koffi.struct('ggml_init_params', { mem_size: 'size_t', mem_buffer: 'void *', no_alloc: 'bool' });
export const setNThreadsProto = koffi.proto('void ggml_backend_set_n_threads_t(ggml_backend *backend, int n)');
export const threadpoolNewProto = koffi.proto('void * ggml_threadpool_new_t(void *params)');
export const threadpoolFreeProto = koffi.proto('void ggml_threadpool_free_t(void *pool)');
export const setThreadpoolProto = koffi.proto(
  'void ggml_backend_cpu_set_threadpool_t(ggml_backend *backend, void *pool)',
);
/** ggml_backend_get_features: a {name, value} array ended by a NULL name */
export const getFeaturesProto = koffi.proto('void * ggml_backend_get_features_t(ggml_backend_reg *reg)');

const base = koffi.load(baseLib);
const reg = koffi.load(path.join(GGML_BIN_DIR, regLib));
const T = 'ggml_tensor *';
const C = 'ggml_context *';
const f = (sig: string) => base.func(sig);

export const ggml = {
  // contexts
  init: f('ggml_context * ggml_init(ggml_init_params params)'),
  free: f(`void ggml_free(${C} ctx)`),
  tensor_overhead: f('size_t ggml_tensor_overhead()'),
  threadpool_params_init: f('void ggml_threadpool_params_init(_Out_ uint8_t *params, int n_threads)'),
  used_mem: f(`size_t ggml_used_mem(${C} ctx)`),
  graph_overhead_custom: f('size_t ggml_graph_overhead_custom(size_t size, bool grads)'),
  // tensors
  new_tensor_1d: f(`${T} ggml_new_tensor_1d(${C} ctx, int type, int64_t ne0)`),
  new_tensor_2d: f(`${T} ggml_new_tensor_2d(${C} ctx, int type, int64_t ne0, int64_t ne1)`),
  new_tensor_3d: f(`${T} ggml_new_tensor_3d(${C} ctx, int type, int64_t ne0, int64_t ne1, int64_t ne2)`),
  new_tensor_4d: f(`${T} ggml_new_tensor_4d(${C} ctx, int type, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3)`),
  set_name: f(`${T} ggml_set_name(${T} t, const char *name)`),
  get_name: f(`const char * ggml_get_name(${T} t)`),
  set_param: f(`void ggml_set_param(${T} t)`),
  set_input: f(`void ggml_set_input(${T} t)`),
  set_output: f(`void ggml_set_output(${T} t)`),
  // ops
  mul_mat: f(`${T} ggml_mul_mat(${C} ctx, ${T} a, ${T} b)`),
  add: f(`${T} ggml_add(${C} ctx, ${T} a, ${T} b)`),
  add_inplace: f(`${T} ggml_add_inplace(${C} ctx, ${T} a, ${T} b)`),
  sub: f(`${T} ggml_sub(${C} ctx, ${T} a, ${T} b)`),
  mul: f(`${T} ggml_mul(${C} ctx, ${T} a, ${T} b)`),
  mul_inplace: f(`${T} ggml_mul_inplace(${C} ctx, ${T} a, ${T} b)`),
  div: f(`${T} ggml_div(${C} ctx, ${T} a, ${T} b)`),
  scale: f(`${T} ggml_scale(${C} ctx, ${T} a, float s)`),
  scale_bias: f(`${T} ggml_scale_bias(${C} ctx, ${T} a, float s, float b)`),
  sqr: f(`${T} ggml_sqr(${C} ctx, ${T} a)`),
  sqrt: f(`${T} ggml_sqrt(${C} ctx, ${T} a)`),
  sum: f(`${T} ggml_sum(${C} ctx, ${T} a)`),
  sum_rows: f(`${T} ggml_sum_rows(${C} ctx, ${T} a)`),
  log: f(`${T} ggml_log(${C} ctx, ${T} a)`),
  exp: f(`${T} ggml_exp(${C} ctx, ${T} a)`),
  silu: f(`${T} ggml_silu(${C} ctx, ${T} a)`),
  swiglu_split: f(`${T} ggml_swiglu_split(${C} ctx, ${T} a, ${T} b)`),
  rms_norm: f(`${T} ggml_rms_norm(${C} ctx, ${T} a, float eps)`),
  // backward kernels (argument order as the CPU kernels read them: gradient first)
  rms_norm_back: f(`${T} ggml_rms_norm_back(${C} ctx, ${T} dy, ${T} x, float eps)`),
  silu_back: f(`${T} ggml_silu_back(${C} ctx, ${T} dy, ${T} x)`),
  rope_ext_back: f(
    `${T} ggml_rope_ext_back(${C} ctx, ${T} dy, ${T} b, ${T} c, int n_dims, int mode, int n_ctx_orig, float freq_base, float freq_scale, float ext_factor, float attn_factor, float beta_fast, float beta_slow)`,
  ),
  get_rows_back: f(`${T} ggml_get_rows_back(${C} ctx, ${T} dy, ${T} rows, ${T} like)`),
  repeat_back: f(`${T} ggml_repeat_back(${C} ctx, ${T} a, ${T} like)`),
  get_rows: f(`${T} ggml_get_rows(${C} ctx, ${T} a, ${T} b)`),
  soft_max: f(`${T} ggml_soft_max(${C} ctx, ${T} a)`),
  soft_max_ext: f(`${T} ggml_soft_max_ext(${C} ctx, ${T} a, ${T} mask, float scale, float max_bias)`),
  rope_ext: f(
    `${T} ggml_rope_ext(${C} ctx, ${T} a, ${T} b, ${T} c, int n_dims, int mode, int n_ctx_orig, float freq_base, float freq_scale, float ext_factor, float attn_factor, float beta_fast, float beta_slow)`,
  ),
  reshape_2d: f(`${T} ggml_reshape_2d(${C} ctx, ${T} a, int64_t ne0, int64_t ne1)`),
  reshape_3d: f(`${T} ggml_reshape_3d(${C} ctx, ${T} a, int64_t ne0, int64_t ne1, int64_t ne2)`),
  reshape_4d: f(`${T} ggml_reshape_4d(${C} ctx, ${T} a, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3)`),
  view_4d: f(
    `${T} ggml_view_4d(${C} ctx, ${T} a, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3, size_t nb1, size_t nb2, size_t nb3, size_t offset)`,
  ),
  permute: f(`${T} ggml_permute(${C} ctx, ${T} a, int a0, int a1, int a2, int a3)`),
  cont: f(`${T} ggml_cont(${C} ctx, ${T} a)`),
  transpose: f(`${T} ggml_transpose(${C} ctx, ${T} a)`),
  cast: f(`${T} ggml_cast(${C} ctx, ${T} a, int type)`),
  concat: f(`${T} ggml_concat(${C} ctx, ${T} a, ${T} b, int dim)`),
  set_rows: f(`${T} ggml_set_rows(${C} ctx, ${T} a, ${T} b, ${T} c)`),
  cpy: f(`${T} ggml_cpy(${C} ctx, ${T} a, ${T} b)`),
  opt_step_adamw: f(`${T} ggml_opt_step_adamw(${C} ctx, ${T} a, ${T} grad, ${T} m, ${T} v, ${T} adamw_params)`),
  // graphs
  new_graph_custom: f(`ggml_cgraph * ggml_new_graph_custom(${C} ctx, size_t size, bool grads)`),
  build_forward_expand: f(`void ggml_build_forward_expand(ggml_cgraph *g, ${T} t)`),
  graph_n_nodes: f('int ggml_graph_n_nodes(ggml_cgraph *g)'),
  graph_node: f(`${T} ggml_graph_node(ggml_cgraph *g, int i)`),
  graph_add_node: f(`void ggml_graph_add_node(ggml_cgraph *g, ${T} t)`),
  graph_get_tensor: f(`${T} ggml_graph_get_tensor(ggml_cgraph *g, const char *name)`),
  op_desc: f(`const char * ggml_op_desc(${T} t)`),
  // allocation and backends
  gallocr_new: f('ggml_gallocr * ggml_gallocr_new(ggml_backend_buffer_type *buft)'),
  gallocr_free: f('void ggml_gallocr_free(ggml_gallocr *a)'),
  gallocr_alloc_graph: f('bool ggml_gallocr_alloc_graph(ggml_gallocr *a, ggml_cgraph *g)'),
  gallocr_get_buffer_size: f('size_t ggml_gallocr_get_buffer_size(ggml_gallocr *a, int buffer_id)'),
  sched_new: f(
    'ggml_backend_sched * ggml_backend_sched_new(ggml_backend **backends, ggml_backend_buffer_type **bufts, int n, size_t graph_size, bool parallel, bool op_offload)',
  ),
  sched_free: f('void ggml_backend_sched_free(ggml_backend_sched *s)'),
  sched_set_tensor_backend: f(
    `void ggml_backend_sched_set_tensor_backend(ggml_backend_sched *s, ${T} node, ggml_backend *b)`,
  ),
  sched_alloc_graph: f('bool ggml_backend_sched_alloc_graph(ggml_backend_sched *s, ggml_cgraph *g)'),
  sched_graph_compute: f('int ggml_backend_sched_graph_compute(ggml_backend_sched *s, ggml_cgraph *g)'),
  sched_get_n_splits: f('int ggml_backend_sched_get_n_splits(ggml_backend_sched *s)'),
  sched_get_buffer_size: f('size_t ggml_backend_sched_get_buffer_size(ggml_backend_sched *s, ggml_backend *b)'),
  backend_alloc_ctx_tensors: f(`ggml_backend_buffer * ggml_backend_alloc_ctx_tensors(${C} ctx, ggml_backend *backend)`),
  backend_buffer_get_size: f('size_t ggml_backend_buffer_get_size(ggml_backend_buffer *b)'),
  backend_buffer_get_base: f('void * ggml_backend_buffer_get_base(ggml_backend_buffer *b)'),
  backend_buffer_is_host: f('bool ggml_backend_buffer_is_host(ggml_backend_buffer *b)'),
  backend_buffer_clear: f('void ggml_backend_buffer_clear(ggml_backend_buffer *b, uint8_t value)'),
  backend_buffer_free: f('void ggml_backend_buffer_free(ggml_backend_buffer *b)'),
  backend_buft_alloc_buffer: f(
    'ggml_backend_buffer * ggml_backend_buft_alloc_buffer(ggml_backend_buffer_type *buft, size_t size)',
  ),
  backend_buft_get_alignment: f('size_t ggml_backend_buft_get_alignment(ggml_backend_buffer_type *buft)'),
  backend_buft_get_alloc_size: f(`size_t ggml_backend_buft_get_alloc_size(ggml_backend_buffer_type *buft, ${T} t)`),
  backend_tensor_alloc: f(`int ggml_backend_tensor_alloc(ggml_backend_buffer *b, ${T} t, void *addr)`),
  backend_view_init: f(`int ggml_backend_view_init(${T} t)`),
  backend_tensor_set: f(`void ggml_backend_tensor_set(${T} t, const void *data, size_t offset, size_t size)`),
  backend_tensor_get: f(`void ggml_backend_tensor_get(${T} t, _Out_ void *data, size_t offset, size_t size)`),
  backend_graph_compute: f('int ggml_backend_graph_compute(ggml_backend *b, ggml_cgraph *g)'),
  backend_get_default_buffer_type: f(
    'ggml_backend_buffer_type * ggml_backend_get_default_buffer_type(ggml_backend *b)',
  ),
  backend_free: f('void ggml_backend_free(ggml_backend *b)'),
  backend_get_device: f('ggml_backend_device * ggml_backend_get_device(ggml_backend *b)'),
  backend_dev_backend_reg: f('ggml_backend_reg * ggml_backend_dev_backend_reg(ggml_backend_device *d)'),
  backend_dev_description: f('const char * ggml_backend_dev_description(ggml_backend_device *d)'),
  backend_name: f('const char * ggml_backend_name(ggml_backend *b)'),
  backend_reg_get_proc_address: f('void * ggml_backend_reg_get_proc_address(ggml_backend_reg *r, const char *name)'),
  backend_supports_op: f(`bool ggml_backend_supports_op(ggml_backend *b, ${T} op)`),
  backend_synchronize: f('void ggml_backend_synchronize(ggml_backend *b)'),
  backend_dev_name: f('const char * ggml_backend_dev_name(ggml_backend_device *d)'),
  backend_dev_type: f('int ggml_backend_dev_type(ggml_backend_device *d)'),
  backend_dev_memory: f(
    'void ggml_backend_dev_memory(ggml_backend_device *d, _Out_ size_t *free, _Out_ size_t *total)',
  ),
  backend_dev_init: f('ggml_backend * ggml_backend_dev_init(ggml_backend_device *d, const char *params)'),
  backend_reg_name: f('const char * ggml_backend_reg_name(ggml_backend_reg *r)'),
  backend_dev_count: reg.func('size_t ggml_backend_dev_count()'),
  backend_dev_get: reg.func('ggml_backend_device * ggml_backend_dev_get(size_t i)'),
  backend_load_all_from_path: reg.func('void ggml_backend_load_all_from_path(const char *dir)'),
  backend_init_by_type: reg.func('ggml_backend * ggml_backend_init_by_type(int type, const char *params)'),
  backend_init_by_name: reg.func('ggml_backend * ggml_backend_init_by_name(const char *name, const char *params)'),
};

// ggml logs through one callback: keep warnings and errors, drop info chatter ("load_backend: …") unless
// GRPO_GGML_VERBOSE is set. The callback object is kept alive here for the life of the process.
const logProto = koffi.proto('void ggml_log_callback_t(int level, const char *text, void *user)');
const logSet = base.func('void ggml_log_set(ggml_log_callback_t *cb, void *user)');
let lastLevel = 0;
const logCallback = koffi.register((level: number, text: string) => {
  const effective = level === 5 /* CONT */ ? lastLevel : level;
  lastLevel = effective;
  if (effective >= 3 /* WARN, ERROR */ || process.env.GRPO_GGML_VERBOSE) process.stderr.write(text);
}, koffi.pointer(logProto));
logSet(logCallback, null);

export { koffi };
