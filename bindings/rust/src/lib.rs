//! Rust bindings to libqnt over its C ABI (include/libqnt.h).
//!
//! ```no_run
//! let ctx = libqnt::Context::new(0, None)?;          // every CPU, best backend
//! let q4k = libqnt::Type::from_name("q4_K")?;
//! let x: Vec<f32> = (0..4 * 256).map(|i| (i as f32).sin()).collect();
//! let q = ctx.quantize(q4k, &x, 256, None)?;          // 4 rows of q4_K bytes
//! let y = ctx.dequantize(q4k, &q, 256)?;              // back to floats
//! let v = ctx.matmul(q4k, &q, 256, &x[..256])?;       // W x: 4 outputs
//! # Ok::<(), libqnt::Error>(())
//! ```
//!
//! Every failure is an [`Error`] carrying libqnt's status and message.
//! A [`Context`] may move between threads but is used by one at a time.

use std::ffi::{CStr, CString};
use std::fmt;
use std::os::raw::{c_char, c_int, c_void};
use std::path::Path;
use std::ptr;

pub mod sys;

/// A failed libqnt call: the `qnt_status` (negative), its `QNT_E_*` name and
/// libqnt's message (naming the file, tensor and offset where there is one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub status: i32,
    pub name: String,
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

const E_INVALID_ARG: i32 = -1;
const E_UNKNOWN_TYPE: i32 = -7;
const E_BAD_SHAPE: i32 = -8;

fn text(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

fn error(status: c_int, message: String) -> Error {
    Error { status, name: text(unsafe { sys::qnt_status_name(status) }), message }
}

fn check(status: c_int, ctx: *const c_void) -> Result<()> {
    if status == 0 {
        Ok(())
    } else {
        Err(error(status, text(unsafe { sys::qnt_ctx_last_error(ctx) })))
    }
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| error(E_INVALID_ARG, format!("'{}' contains a NUL byte", s.escape_debug())))
}

fn path_cstring(p: &Path) -> Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| error(E_INVALID_ARG, format!("{}: path contains a NUL byte", p.display())))
}

/// The library's version ("1.0.0").
pub fn version() -> String {
    text(unsafe { sys::qnt_version_string() })
}

/// A format of the registry (its GGUF type id for ggml formats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Type(pub i32);

impl Type {
    /// A format by name, case-insensitively ("q4_K", "mlx:affine:4:64").
    pub fn from_name(name: &str) -> Result<Type> {
        let c = cstring(name)?;
        let t = unsafe { sys::qnt_type_by_name(c.as_ptr()) };
        if t < 0 {
            return Err(error(E_UNKNOWN_TYPE, format!("unknown format '{}'", name)));
        }
        Ok(Type(t))
    }

    /// The canonical name ("q4_K").
    pub fn name(self) -> String {
        text(unsafe { sys::qnt_type_name(self.0) })
    }

    /// Elements per block.
    pub fn block_size(self) -> i64 {
        unsafe { sys::qnt_type_block_size(self.0) }
    }

    /// Bytes of one row of `n_per_row` elements.
    pub fn row_size(self, n_per_row: usize) -> Result<usize> {
        match unsafe { sys::qnt_row_size(self.0, n_per_row as i64) } {
            0 => Err(error(E_BAD_SHAPE, format!("{}: a row of {} elements is not a positive multiple of the block of {}",
                                                self.name(), n_per_row, self.block_size()))),
            n => Ok(n),
        }
    }

    fn rows(self, bytes: usize, n_per_row: usize) -> Result<usize> {
        let rs = self.row_size(n_per_row)?;
        if bytes % rs != 0 {
            return Err(error(E_BAD_SHAPE, format!("{}: {} bytes are not whole rows of {} bytes ({} elements)",
                                                  self.name(), bytes, rs, n_per_row)));
        }
        Ok(bytes / rs)
    }
}

fn whole_vectors(len: usize, n: usize, what: &str) -> Result<usize> {
    if n == 0 || len % n != 0 {
        return Err(error(E_BAD_SHAPE, format!("{}: {} floats are not whole vectors of {}", what, len, n)));
    }
    Ok(len / n)
}

/// A context: a thread pool and a backend.
pub struct Context {
    ptr: *mut c_void,
}

unsafe impl Send for Context {}

impl Context {
    /// `n_threads` 0: every CPU; `backend` None: the best-scoring one, else
    /// a name ("cpu", "cpu-avx2", "vulkan", "cuda").
    pub fn new(n_threads: i32, backend: Option<&str>) -> Result<Context> {
        let name = match backend {
            Some(b) => Some(cstring(b)?),
            None => None,
        };
        let mut opts: sys::qnt_ctx_opts = unsafe { std::mem::zeroed() };
        check(unsafe { sys::qnt_ctx_opts_init(&mut opts, std::mem::size_of::<sys::qnt_ctx_opts>()) }, ptr::null())?;
        opts.n_threads = n_threads;
        opts.backend = name.as_ref().map_or(ptr::null(), |c| c.as_ptr());
        let mut ctx = ptr::null_mut();
        check(unsafe { sys::qnt_ctx_create(&opts, &mut ctx) }, ptr::null())?;
        Ok(Context { ptr: ctx })
    }

    /// The backend the context runs on.
    pub fn backend(&self) -> String {
        text(unsafe { sys::qnt_ctx_backend_name(self.ptr) })
    }

    pub fn n_threads(&self) -> i32 {
        unsafe { sys::qnt_ctx_n_threads(self.ptr) }
    }

    fn check(&self, status: c_int) -> Result<()> {
        check(status, self.ptr)
    }

    /// Quantizes rows of `n_per_row` floats (x holds whole rows) to format
    /// `t`; `importance`: None, or n_per_row weights to minimise the weighted
    /// error. Without importance the bytes equal ggml's.
    pub fn quantize(&self, t: Type, x: &[f32], n_per_row: usize, importance: Option<&[f32]>) -> Result<Vec<u8>> {
        let nrows = whole_vectors(x.len(), n_per_row, "quantize")?;
        if let Some(w) = importance {
            if w.len() != n_per_row {
                return Err(error(E_INVALID_ARG, format!("importance: {} values for rows of {}", w.len(), n_per_row)));
            }
        }
        let mut out = vec![0u8; nrows * t.row_size(n_per_row)?];
        self.check(unsafe {
            sys::qnt_quantize(self.ptr, t.0, x.as_ptr(), out.as_mut_ptr() as *mut c_void, nrows as i64,
                              n_per_row as i64, importance.map_or(ptr::null(), |w| w.as_ptr()))
        })?;
        Ok(out)
    }

    /// The floats of whole rows of format `t` (equal to ggml's).
    pub fn dequantize(&self, t: Type, q: &[u8], n_per_row: usize) -> Result<Vec<f32>> {
        let nrows = t.rows(q.len(), n_per_row)?;
        let mut out = vec![0f32; nrows * n_per_row];
        self.check(unsafe {
            sys::qnt_dequantize(self.ptr, t.0, q.as_ptr() as *const c_void, out.as_mut_ptr(), nrows as i64,
                                n_per_row as i64)
        })?;
        Ok(out)
    }

    /// y = W x: `w` holds n_out rows of `n_in` elements of format `t`, `x`
    /// n_cols vectors of n_in floats; returns n_cols vectors of n_out floats.
    pub fn matmul(&self, t: Type, w: &[u8], n_in: usize, x: &[f32]) -> Result<Vec<f32>> {
        let n_out = t.rows(w.len(), n_in)?;
        let n_cols = whole_vectors(x.len(), n_in, "matmul")?;
        let mut y = vec![0f32; n_cols * n_out];
        self.check(unsafe {
            sys::qnt_matmul(self.ptr, t.0, w.as_ptr() as *const c_void, n_out as i64, n_in as i64, x.as_ptr(),
                            n_cols as i64, y.as_mut_ptr())
        })?;
        Ok(y)
    }

    /// W prepared once in the backend's layout for repeated products.
    pub fn prepare(&self, t: Type, w: &[u8], n_in: usize) -> Result<Matrix<'_>> {
        let n_out = t.rows(w.len(), n_in)?;
        let mut m = ptr::null_mut();
        self.check(unsafe {
            sys::qnt_matrix_prepare(self.ptr, t.0, w.as_ptr() as *const c_void, n_out as i64, n_in as i64, &mut m)
        })?;
        Ok(Matrix { ptr: m, ctx: self, n_out, n_in })
    }

    /// Quantizes a whole model (GGUF, safetensors or MLX folder) with a
    /// preset ("Q4_K_M") or one format for every weight ("q8_0"), into a
    /// GGUF file, MLX folder or safetensors file chosen by `output`'s name.
    /// Returns the report as JSON text.
    pub fn quantize_model(&self, input: &Path, output: &Path, recipe: &str) -> Result<String> {
        let name = cstring(recipe)?;
        let mut r = ptr::null_mut();
        if unsafe { sys::qnt_recipe_preset(name.as_ptr(), &mut r) } != 0 {
            check(unsafe { sys::qnt_recipe_from_type(Type::from_name(recipe)?.0, &mut r) }, ptr::null())?;
        }
        let mut opts: sys::qnt_model_quantize_opts = unsafe { std::mem::zeroed() };
        unsafe { sys::qnt_model_quantize_opts_init(&mut opts) };
        opts.recipe = r;
        let (i, o) = (path_cstring(input)?, path_cstring(output)?);
        let mut report = ptr::null_mut();
        let st = unsafe { sys::qnt_model_quantize(self.ptr, i.as_ptr(), o.as_ptr(), &opts, &mut report) };
        unsafe { sys::qnt_recipe_free(r) };
        self.check(st)?;
        let mut json = ptr::null_mut();
        let st = unsafe { sys::qnt_report_json(report, &mut json) };
        unsafe { sys::qnt_report_free(report) };
        check(st, ptr::null())?;
        let s = text(json);
        unsafe { sys::qnt_free(json as *mut c_void) };
        Ok(s)
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        unsafe { sys::qnt_ctx_destroy(self.ptr) }
    }
}

/// A weight matrix prepared on a context (`qnt_matrix_prepare`).
pub struct Matrix<'a> {
    ptr: *mut c_void,
    ctx: &'a Context,
    pub n_out: usize,
    pub n_in: usize,
}

impl Matrix<'_> {
    /// The layout it holds: the backend's name, or "plain".
    pub fn layout(&self) -> String {
        text(unsafe { sys::qnt_matrix_layout(self.ptr) })
    }

    /// y = W x, as [`Context::matmul`].
    pub fn matmul(&self, x: &[f32]) -> Result<Vec<f32>> {
        let n_cols = whole_vectors(x.len(), self.n_in, "matmul")?;
        let mut y = vec![0f32; n_cols * self.n_out];
        self.ctx.check(unsafe {
            sys::qnt_matmul_prepared(self.ctx.ptr, self.ptr, x.as_ptr(), n_cols as i64, y.as_mut_ptr())
        })?;
        Ok(y)
    }
}

impl Drop for Matrix<'_> {
    fn drop(&mut self) {
        unsafe { sys::qnt_matrix_free(self.ptr) }
    }
}

/// One tensor of a [`Model`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    pub index: i64,
    pub name: String,
    /// The libqnt format, None for storage types that are not formats.
    pub type_: Option<Type>,
    /// The file's name of its type ("q4_K", "F32", "mlx:affine:4:64:bf16").
    pub dtype: String,
    /// Outermost first: shape[n - 1] is the row length.
    pub shape: Vec<i64>,
    pub n_elements: i64,
}

/// An opened model: a GGUF file, safetensors file/index/folder or MLX folder.
pub struct Model {
    ptr: *mut c_void,
}

unsafe impl Send for Model {}
unsafe impl Sync for Model {}

impl Model {
    pub fn open(path: &Path) -> Result<Model> {
        let c = path_cstring(path)?;
        let mut m = ptr::null_mut();
        check(unsafe { sys::qnt_model_open(ptr::null_mut(), c.as_ptr(), &mut m) }, ptr::null())?;
        Ok(Model { ptr: m })
    }

    pub fn tensors(&self) -> Result<Vec<TensorInfo>> {
        (0..unsafe { sys::qnt_model_tensor_count(self.ptr) }).map(|i| self.tensor_at(i)).collect()
    }

    fn tensor_at(&self, index: i64) -> Result<TensorInfo> {
        let mut info: sys::qnt_tensor_info = unsafe { std::mem::zeroed() };
        info.struct_size = std::mem::size_of::<sys::qnt_tensor_info>() as u32;
        check(unsafe { sys::qnt_model_tensor_info(self.ptr, index, &mut info) }, ptr::null())?;
        Ok(TensorInfo {
            index,
            name: text(info.name),
            type_: if info.type_ >= 0 { Some(Type(info.type_)) } else { None },
            dtype: text(info.dtype),
            shape: info.shape[..info.n_dims as usize].to_vec(),
            n_elements: info.n_elements,
        })
    }

    /// The tensor of that name.
    pub fn tensor(&self, name: &str) -> Result<TensorInfo> {
        let c = cstring(name)?;
        match unsafe { sys::qnt_model_find_tensor(self.ptr, c.as_ptr()) } {
            i if i >= 0 => self.tensor_at(i),
            _ => Err(error(-9, format!("no tensor '{}'", name))),
        }
    }

    /// Rows [row0, row0 + n_rows) of a tensor as floats (dequantized), on `ctx`.
    pub fn read_rows(&self, ctx: &Context, t: &TensorInfo, row0: i64, n_rows: i64) -> Result<Vec<f32>> {
        let row = *t.shape.last().unwrap_or(&1);
        if n_rows < 0 || row0 < 0 {
            return Err(error(E_INVALID_ARG, format!("{}: rows {}..{}", t.name, row0, row0 + n_rows)));
        }
        let mut out = vec![0f32; (n_rows * row) as usize];
        ctx.check(unsafe { sys::qnt_model_read_rows(ctx.ptr, self.ptr, t.index, row0, n_rows, out.as_mut_ptr()) })?;
        Ok(out)
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        unsafe { sys::qnt_model_close(self.ptr) }
    }
}
