//! The C ABI of include/libqnt.h that the safe API uses, declared by hand
//! (the header is the source of truth; struct layouts are checked against
//! it by the tests through the sizes libqnt accepts).
#![allow(non_camel_case_types)]
use std::os::raw::{c_char, c_int, c_void};

pub type qnt_type = i32;

#[repr(C)]
pub struct qnt_ctx_opts {
    pub struct_size: u32,
    pub n_threads: i32,
    pub backend: *const c_char,
    pub alloc: *const c_void,
    pub free: *const c_void,
    pub alloc_user: *mut c_void,
    pub log: *const c_void,
    pub log_user: *mut c_void,
    pub log_level: i32,
    pub device: i32,
    pub flags: u32,
    pub reserved: u32,
}

pub const QNT_MAX_DIMS: usize = 8;

#[repr(C)]
pub struct qnt_tensor_info {
    pub struct_size: u32,
    pub n_dims: i32,
    pub name: *const c_char,
    pub type_: qnt_type,
    pub reserved: i32,
    pub dtype: *const c_char,
    pub shape: [i64; QNT_MAX_DIMS],
    pub n_elements: i64,
    pub nbytes: u64,
    pub file: *const c_char,
    pub offset: u64,
}

#[repr(C)]
pub struct qnt_model_quantize_opts {
    pub struct_size: u32,
    pub output_format: i32,
    pub recipe: *const c_void,
    pub imatrix: *const c_void,
    pub max_memory: u64,
    pub flags: u32,
    pub reserved0: i32,
    pub progress: *const c_void,
    pub progress_user: *mut c_void,
    pub max_shard_bytes: u64,
}

extern "C" {
    pub fn qnt_version_string() -> *const c_char;
    pub fn qnt_status_name(status: c_int) -> *const c_char;
    pub fn qnt_type_by_name(name: *const c_char) -> qnt_type;
    pub fn qnt_type_name(t: qnt_type) -> *const c_char;
    pub fn qnt_type_block_size(t: qnt_type) -> i64;
    pub fn qnt_row_size(t: qnt_type, n_per_row: i64) -> usize;
    pub fn qnt_ctx_opts_init(opts: *mut qnt_ctx_opts, size: usize) -> c_int;
    pub fn qnt_ctx_create(opts: *const qnt_ctx_opts, out: *mut *mut c_void) -> c_int;
    pub fn qnt_ctx_destroy(ctx: *mut c_void);
    pub fn qnt_ctx_last_error(ctx: *const c_void) -> *const c_char;
    pub fn qnt_ctx_backend_name(ctx: *mut c_void) -> *const c_char;
    pub fn qnt_ctx_n_threads(ctx: *mut c_void) -> i32;
    pub fn qnt_quantize(ctx: *mut c_void, t: qnt_type, src: *const f32, dst: *mut c_void, nrows: i64,
                        n_per_row: i64, importance: *const f32) -> c_int;
    pub fn qnt_dequantize(ctx: *mut c_void, t: qnt_type, src: *const c_void, dst: *mut f32, nrows: i64,
                          n_per_row: i64) -> c_int;
    pub fn qnt_matmul(ctx: *mut c_void, t: qnt_type, w: *const c_void, n_out: i64, n_in: i64, x: *const f32,
                      n_cols: i64, y: *mut f32) -> c_int;
    pub fn qnt_matrix_prepare(ctx: *mut c_void, t: qnt_type, w: *const c_void, n_out: i64, n_in: i64,
                              out: *mut *mut c_void) -> c_int;
    pub fn qnt_matmul_prepared(ctx: *mut c_void, m: *const c_void, x: *const f32, n_cols: i64, y: *mut f32)
        -> c_int;
    pub fn qnt_matrix_layout(m: *const c_void) -> *const c_char;
    pub fn qnt_matrix_free(m: *mut c_void);
    pub fn qnt_model_open(ctx: *mut c_void, path: *const c_char, out: *mut *mut c_void) -> c_int;
    pub fn qnt_model_close(m: *mut c_void);
    pub fn qnt_model_tensor_count(m: *const c_void) -> i64;
    pub fn qnt_model_tensor_info(m: *const c_void, index: i64, info: *mut qnt_tensor_info) -> c_int;
    pub fn qnt_model_find_tensor(m: *const c_void, name: *const c_char) -> i64;
    pub fn qnt_model_read_rows(ctx: *mut c_void, m: *const c_void, index: i64, row0: i64, n_rows: i64,
                               out: *mut f32) -> c_int;
    pub fn qnt_recipe_preset(name: *const c_char, out: *mut *mut c_void) -> c_int;
    pub fn qnt_recipe_from_type(t: qnt_type, out: *mut *mut c_void) -> c_int;
    pub fn qnt_recipe_free(r: *mut c_void);
    pub fn qnt_model_quantize_opts_init(opts: *mut qnt_model_quantize_opts);
    pub fn qnt_model_quantize(ctx: *mut c_void, input: *const c_char, output: *const c_char,
                              opts: *const qnt_model_quantize_opts, report: *mut *mut c_void) -> c_int;
    pub fn qnt_report_json(r: *const c_void, json: *mut *mut c_char) -> c_int;
    pub fn qnt_report_free(r: *mut c_void);
    pub fn qnt_free(p: *mut c_void);
}
