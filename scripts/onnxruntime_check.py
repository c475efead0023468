# onnxruntime against `synapse predict` on a transformer, an LSTM and a GRU model,
# at the training length and at another one.
import subprocess, sys, numpy as np, onnx, onnxruntime as ort
S = sys.argv[1]
r = np.random.default_rng(0)
def run(*a): subprocess.run([S, *a], check=True, capture_output=True)
ids = r.integers(0, 11, size=(64, 8)); yseq = np.roll(ids, -1, axis=1)
np.savez('ids.npz', x=ids, y=yseq)
xf = r.normal(size=(64, 8, 3)).astype(np.float32); yf = xf.sum(axis=(1, 2))[:, None].astype(np.float32)
np.savez('floats.npz', x=xf, y=yf)
cases = [
  ('transformer', 'ids.npz', 'embedding(11,16), positional(12,16), residual(layernorm(16), attention(16,4,causal=true)), residual(layernorm(16), linear(16,32), gelu, linear(32,16)), layernorm(16), linear(16,11)', 'cross-entropy'),
  ('lstm', 'floats.npz', 'lstm(3,12), lstm(12,8), last, linear(8,1)', 'mse'),
  ('gru', 'floats.npz', 'gru(3,12), seqmean, linear(12,1)', 'mse'),
]
for name, data, arch, loss in cases:
    run('train', '--data', data, '--arch', arch, '--loss', loss, '--epochs', '3', '--quiet', '--out', f'{name}.safetensors')
    run('export', '--model', f'{name}.safetensors', '--out', f'{name}.onnx')
    onnx.checker.check_model(onnx.load(f'{name}.onnx'), full_check=True)
    sess = ort.InferenceSession(f'{name}.onnx')
    for T in (8, 5, 12):
        d = np.load(data)
        x = d['x'][:16, :T] if T <= 8 else np.concatenate([d['x'][:16], d['x'][:16, :T - 8]], axis=1)
        np.savez('probe.npz', x=x, y=d['y'][:16] if loss == 'mse' else x)
        out = subprocess.run([S, 'predict', '--model', f'{name}.safetensors', '--data', 'probe.npz'], check=True, capture_output=True, text=True).stdout
        ours = np.array([[float(v) for v in line.split(',')] for line in out.splitlines()])
        theirs = sess.run(None, {'input': x.astype(np.int64) if x.dtype.kind == 'i' else x})[0].reshape(16, -1)
        print(f'{name:12s} T={T:2d}: max |synapse - onnxruntime| = {np.abs(ours - theirs).max():.2e} (outputs up to {np.abs(theirs).max():.2f})')
