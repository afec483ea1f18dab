// The Rust bindings against libqnt and against the formats' definitions:
// q8_0 bytes decoded here by the GGUF layout (fp16 scale, 32 int8), products
// against an f64 product of the dequantized weights, prepared matrices,
// a model quantized to GGUF and read back, and errors as statuses.
use libqnt::{Context, Model, Type};
use std::path::PathBuf;

fn data(n: usize, seed: u32) -> Vec<f32> {
    // a deterministic spread of magnitudes (no crates: a small LCG)
    let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
    (0..n)
        .map(|i| {
            s = s.wrapping_mul(1664525).wrapping_add(1013904223);
            let u = (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            u * (1.0 + (i % 7) as f32)
        })
        .collect()
}

fn f16_to_f32(h: u16) -> f32 {
    let (sign, exp, man) = ((h >> 15) as u32, ((h >> 10) & 0x1f) as u32, (h & 0x3ff) as u32);
    let mag = match exp {
        0 => man as f32 * 2f32.powi(-24),
        31 => if man == 0 { f32::INFINITY } else { f32::NAN },
        _ => f32::from_bits(((exp + 112) << 23) | (man << 13)),
    };
    if sign == 1 { -mag } else { mag }
}

#[test]
fn q8_0_bytes_follow_the_gguf_layout() {
    let ctx = Context::new(2, None).unwrap();
    let t = Type::from_name("Q8_0").unwrap();
    assert_eq!(t.name(), "q8_0");
    let n = 256;
    let x = data(3 * n, 1);
    let q = ctx.quantize(t, &x, n, None).unwrap();
    assert_eq!(q.len(), 3 * (n / 32) * 34);
    let back = ctx.dequantize(t, &q, n).unwrap();
    for (b, blk) in q.chunks(34).enumerate() {
        let d = f16_to_f32(u16::from_le_bytes([blk[0], blk[1]]));
        let xs = &x[b * 32..b * 32 + 32];
        let amax = xs.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!((d - amax / 127.0).abs() <= amax / 127.0 * 1e-3, "block {}: scale {} for amax {}", b, d, amax);
        for j in 0..32 {
            let v = d * (blk[2 + j] as i8) as f32;
            assert_eq!(back[b * 32 + j].to_bits(), v.to_bits(), "block {} element {}", b, j);
            assert!((xs[j] - v).abs() <= d * 0.5 + amax * 1e-3, "block {} element {}: {} vs {}", b, j, xs[j], v);
        }
    }
}

#[test]
fn products_agree_with_f64() {
    let ctx = Context::new(2, None).unwrap();
    let (n_out, n_in, n_cols) = (40, 512, 3);
    let w = data(n_out * n_in, 2);
    let x = data(n_cols * n_in, 3);
    for name in ["q4_0", "q8_0", "q4_K", "q6_K", "iq4_xs"] {
        let t = Type::from_name(name).unwrap();
        let q = ctx.quantize(t, &w, n_in, None).unwrap();
        let wd = ctx.dequantize(t, &q, n_in).unwrap();
        let y = ctx.matmul(t, &q, n_in, &x).unwrap();
        let m = ctx.prepare(t, &q, n_in).unwrap();
        assert!(!m.layout().is_empty());
        let yp = m.matmul(&x).unwrap();
        let (mut num, mut nump, mut den) = (0f64, 0f64, 0f64);
        for c in 0..n_cols {
            for i in 0..n_out {
                let exact: f64 = (0..n_in).map(|j| wd[i * n_in + j] as f64 * x[c * n_in + j] as f64).sum();
                num += (y[c * n_out + i] as f64 - exact).powi(2);
                nump += (yp[c * n_out + i] as f64 - exact).powi(2);
                den += exact * exact;
            }
        }
        assert!((num / den).sqrt() < 1e-2, "{}: matmul relative error {}", name, (num / den).sqrt());
        assert!((nump / den).sqrt() < 1e-2, "{} ({}): prepared relative error {}", name, m.layout(), (nump / den).sqrt());
    }
}

#[test]
fn errors_carry_status_and_message() {
    let ctx = Context::new(1, Some("cpu")).unwrap();
    assert_eq!(ctx.backend(), "cpu");
    assert_eq!(ctx.n_threads(), 1);
    let e = Type::from_name("q9_9").unwrap_err();
    assert_eq!((e.status, e.name.as_str()), (-7, "QNT_E_UNKNOWN_TYPE"));
    let t = Type::from_name("q4_K").unwrap();
    let e = ctx.quantize(t, &data(100, 4), 100, None).unwrap_err();
    assert_eq!(e.name, "QNT_E_BAD_SHAPE");
    assert!(e.message.contains("100"), "{}", e);
    let e = ctx.quantize(t, &data(256, 4), 256, Some(&vec![-1.0; 256])).unwrap_err();
    assert_eq!(e.name, "QNT_E_INVALID_ARG");
    assert!(!e.message.is_empty());
    let e = Context::new(1, Some("no-such-backend")).err().unwrap();
    assert_eq!(e.name, "QNT_E_NOT_FOUND");
    assert!(e.message.contains("no-such-backend"), "{}", e);
}

fn write_safetensors(path: &PathBuf, name: &str, rows: usize, cols: usize, x: &[f32]) {
    let header = format!("{{\"{}\":{{\"dtype\":\"F32\",\"shape\":[{},{}],\"data_offsets\":[0,{}]}}}}",
                         name, rows, cols, rows * cols * 4);
    let mut h = header.into_bytes();
    while h.len() % 8 != 0 {
        h.push(b' ');
    }
    let mut bytes = (h.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&h);
    for v in x {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_model_quantized_and_read_back() {
    let dir = std::env::temp_dir().join(format!("libqnt-rust-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (src, out) = (dir.join("m.safetensors"), dir.join("m-q8_0.gguf"));
    let (rows, cols) = (16, 256);
    let x = data(rows * cols, 5);
    write_safetensors(&src, "model.layers.0.mlp.up_proj.weight", rows, cols, &x);
    let ctx = Context::new(2, None).unwrap();
    let report = ctx.quantize_model(&src, &out, "q8_0").unwrap();
    assert!(report.contains("\"tensors\""), "{}", report);
    let m = Model::open(&out).unwrap();
    let ts = m.tensors().unwrap();
    assert_eq!(ts.len(), 1);
    let t = &ts[0];
    assert_eq!(t.type_, Some(Type::from_name("q8_0").unwrap()));
    assert_eq!(t.shape, vec![rows as i64, cols as i64]);
    let got = m.read_rows(&ctx, t, 2, 3).unwrap();
    let q8 = Type::from_name("q8_0").unwrap();
    let want = ctx.dequantize(q8, &ctx.quantize(q8, &x[2 * cols..5 * cols], cols, None).unwrap(), cols).unwrap();
    assert_eq!(got, want);
    assert_eq!(m.tensor(&t.name).unwrap(), *t);
    assert_eq!(m.tensor("nope").unwrap_err().status, -9);
    let bad = dir.join("bad.gguf");
    std::fs::write(&bad, &std::fs::read(&out).unwrap()[..64]).unwrap();
    let e = Model::open(&bad).err().unwrap();
    assert_eq!(e.name, "QNT_E_FORMAT");
    assert!(e.message.contains("bad.gguf"), "{}", e);
    std::fs::remove_dir_all(&dir).unwrap();
}
