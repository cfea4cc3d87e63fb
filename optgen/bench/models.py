"""Parameter shapes of real models: the lists of tensors a step walks over."""
from __future__ import annotations


def gpt2_small() -> list[tuple[int, ...]]:
    """GPT-2 small (124M): 148 tensors, in the order of the Hugging Face checkpoint."""
    d, vocab, ctx, layers = 768, 50257, 1024, 12
    shapes: list[tuple[int, ...]] = [(vocab, d), (ctx, d)]          # token and position embeddings
    for _ in range(layers):
        shapes += [(d,), (d,),                                      # ln_1 weight, bias
                   (d, 3 * d), (3 * d,),                            # attn c_attn (qkv)
                   (d, d), (d,),                                    # attn c_proj
                   (d,), (d,),                                      # ln_2
                   (d, 4 * d), (4 * d,),                            # mlp c_fc
                   (4 * d, d), (d,)]                                # mlp c_proj
    shapes += [(d,), (d,)]                                          # ln_f
    return shapes


def resnet50_like() -> list[tuple[int, ...]]:
    """ResNet-50 (25.6M): 161 tensors (convolutions, batch-norm scale and shift, classifier)."""
    shapes: list[tuple[int, ...]] = [(64, 3, 7, 7), (64,), (64,)]
    cin = 64
    for width, blocks in ((64, 3), (128, 4), (256, 6), (512, 3)):
        for b in range(blocks):
            shapes += [(width, cin, 1, 1), (width,), (width,),
                       (width, width, 3, 3), (width,), (width,),
                       (4 * width, width, 1, 1), (4 * width,), (4 * width,)]
            if b == 0:
                shapes += [(4 * width, cin, 1, 1), (4 * width,), (4 * width,)]
            cin = 4 * width
    shapes += [(1000, 2048), (1000,)]
    return shapes


def mlp_100k() -> list[tuple[int, ...]]:
    """A 2-layer MLP on 28x28 inputs (101,770 parameters, 4 tensors): 784 -> 128 -> 10."""
    return [(128, 784), (128,), (10, 128), (10,)]


def cnn_1m() -> list[tuple[int, ...]]:
    """A small CNN on 32x32x3 inputs (1.15M parameters, 10 tensors): three 3x3 convolutions
    (32, 64, 128 channels, each followed by 2x2 pooling) and two dense layers (2048 -> 512 -> 10)."""
    return [(32, 3, 3, 3), (32,), (64, 32, 3, 3), (64,), (128, 64, 3, 3), (128,),
            (512, 2048), (512,), (10, 512), (10,)]


MODELS = {"gpt2-small": gpt2_small, "resnet50-like": resnet50_like, "mlp-100k": mlp_100k, "cnn-1m": cnn_1m}


def model_shapes(model: str | None = None, size: int | None = None) -> list[tuple[int, ...]]:
    """The shapes a benchmark runs on: a model's list, or one tensor of ``size`` elements."""
    if model is not None:
        if model not in MODELS:
            raise ValueError(f"unknown model {model!r}; available: {', '.join(MODELS)}")
        return MODELS[model]()
    return [(int(size if size is not None else 1 << 24),)]


def shapes_for_spec(name: str, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """The tensors of ``shapes`` that the spec ``name`` can step: a spec with a matrix step
    (Muon) takes only tensors of two or more dimensions (the others go to another optimizer,
    as torch.optim.Muon asks); every other spec takes them all."""
    from ..matrix import uses_matrices
    from ..registry import load_spec
    try:
        spec = load_spec(name)
    except Exception:  # an unknown name is the implementations' error to report, with their context
        return list(shapes)
    if not uses_matrices(spec):
        return list(shapes)
    return [s for s in shapes if len(s) >= 2]


def numel(shapes) -> int:
    total = 0
    for s in shapes:
        n = 1
        for d in s:
            n *= d
        total += n
    return total
