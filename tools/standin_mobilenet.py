"""A trained stand-in encoder: MobileNetV2 1.0 224 (ImageNet) read from a quantised TFLite file.

No CLIP weights can be downloaded on the development machines; this network lets the optimiser be
checked on real, trained features. It is NOT CLIP (a sketch good for it is a hint, not a proof, of
one good for CLIP RN101) and never a user-facing default. See ../shared/models/mobilenet_v2/README.md.

The reader walks the TFLite graph (CONV_2D, DEPTHWISE_CONV_2D, ADD, AVERAGE_POOL_2D, RESHAPE,
SOFTMAX) and rebuilds it in float32 PyTorch: weights and biases dequantised per tensor with their
own scale and zero point, BatchNorm already folded in, ReLU6, TensorFlow's SAME padding. The
result is differentiable with respect to its input.

Tensor shapes (images normalised to [-1, 1], i.e. (x - 0.5) / 0.5 of 0..1 images):
    features(images [B, 3, 224, 224]) -> Features(layer2 [B, 32, 28, 28] (end of expanded_conv_5),
        layer3 [B, 96, 14, 14] (end of expanded_conv_12), embedding [B, 1280] (pooled))
        layer2 and layer3 are divided by their RMS on a reference photo (unit size, like the loss expects).
    attention(image [3, 224, 224]) -> [224, 224] class activation map of the top class, 0..1.
    classify(images [B, 3, 224, 224]) -> logits [B, 1001] (index 0 = background).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from clipasso_core.backbones import Features
from clipasso_core.canvas import pad_and_resize

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PATH = ROOT.parent / "shared" / "models" / "mobilenet_v2" / "mobilenet_v2_1.0_224_quant.tflite"
LABELS_PATH = DEFAULT_PATH.with_name("imagenet_labels.txt")
STANDIN_AVAILABLE = DEFAULT_PATH.is_file()
"""Whether the model file is there (tests skip without it)."""

LAYER2 = "MobilenetV2/expanded_conv_5/add"
LAYER3 = "MobilenetV2/expanded_conv_12/add"


def reference_photo(size: int = 224) -> torch.Tensor:
    """scikit-image's chelsea (a cat) padded to a white square and resized (bicubic): [3, size, size] in 0..1."""
    from skimage import data

    rgb = data.chelsea().astype(np.float32) / 255.0
    return torch.from_numpy(pad_and_resize(rgb, size, fill=1.0)).permute(2, 0, 1).contiguous()


def labels() -> list[str]:
    """The 1001 class names (index 0 = background)."""
    return LABELS_PATH.read_text().splitlines()


class _SameConv(nn.Conv2d):
    """A TFLite convolution: SAME or VALID padding, optional fused ReLU6."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, stride: int, same: bool, groups: int, relu6: bool):
        out_ch, in_per_group, k, _ = weight.shape
        super().__init__(in_per_group * groups, out_ch, k, stride, groups=groups)
        self.weight.data.copy_(weight)
        self.bias.data.copy_(bias)
        self.same, self.relu6 = same, relu6

    def reset_parameters(self) -> None:
        """No random initialisation (the weights come from the file; the global RNG stays untouched)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = (0, 0)
        if self.same:
            pads = []
            for size, k, s in zip(x.shape[-2:], self.kernel_size, self.stride):
                total = max((-(-size // s) - 1) * s + k - size, 0)
                pads.append((total // 2, total - total // 2))  # TF: the odd pixel goes after
            if all(a == b for a, b in pads):
                pad = (pads[0][0], pads[1][0])
            else:
                x = F.pad(x, (*pads[1], *pads[0]))
        x = F.conv2d(x, self.weight, self.bias, self.stride, pad, 1, self.groups)
        return F.relu6(x) if self.relu6 else x


def _read_graph(path: Path) -> tuple[list[tuple], nn.ModuleList, dict[str, int], int]:
    """Operators of the TFLite file as steps (kind, input ids, output id, conv index or None), the
    convolutions, tensor ids by (first) name, and the graph input's id."""
    import tflite

    model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
    graph = model.Subgraphs(0)
    op_names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
    dtypes = {tflite.TensorType.UINT8: np.uint8, tflite.TensorType.INT8: np.int8,
              tflite.TensorType.INT32: np.int32, tflite.TensorType.FLOAT32: np.float32}

    def value(i: int) -> torch.Tensor:
        tensor = graph.Tensors(i)
        raw = model.Buffers(tensor.Buffer()).DataAsNumpy()
        values = raw.view(dtypes[tensor.Type()]).reshape(tensor.ShapeAsNumpy()).astype(np.float64)
        q = tensor.Quantization()
        if q is not None and q.ScaleLength():
            shape = [1] * values.ndim
            if q.ScaleLength() > 1:  # per-axis quantisation
                shape[q.QuantizedDimension()] = -1
            values = (values - q.ZeroPointAsNumpy().reshape(shape)) * q.ScaleAsNumpy().reshape(shape)
        return torch.from_numpy(values.astype(np.float32))

    def options(op, cls):
        table = op.BuiltinOptions()
        opts = cls()
        opts.Init(table.Bytes, table.Pos)
        return opts

    steps, convs = [], nn.ModuleList()
    for k in range(graph.OperatorsLength()):
        op = graph.Operators(k)
        code = model.OperatorCodes(op.OpcodeIndex())
        kind = op_names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        inputs, output = [int(i) for i in op.InputsAsNumpy()], int(op.OutputsAsNumpy()[0])
        if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            depthwise = kind == "DEPTHWISE_CONV_2D"
            opts = options(op, tflite.DepthwiseConv2DOptions if depthwise else tflite.Conv2DOptions)
            if opts.StrideH() != opts.StrideW() or opts.DilationHFactor() != 1 or opts.DilationWFactor() != 1:
                raise NotImplementedError(f"operator {k}: unequal strides or dilation")
            weight = value(inputs[1]).permute(3, 0, 1, 2) if depthwise else value(inputs[1]).permute(0, 3, 1, 2)
            groups = weight.shape[0] // opts.DepthMultiplier() if depthwise else 1
            act = opts.FusedActivationFunction()
            if act not in (tflite.ActivationFunctionType.NONE, tflite.ActivationFunctionType.RELU6):
                raise NotImplementedError(f"operator {k}: activation {act}")
            convs.append(_SameConv(weight, value(inputs[2]), opts.StrideH(), opts.Padding() == tflite.Padding.SAME,
                                   groups, act == tflite.ActivationFunctionType.RELU6))
            steps.append(("conv", inputs[:1], output, len(convs) - 1))
        elif kind == "ADD":
            if options(op, tflite.AddOptions).FusedActivationFunction() != tflite.ActivationFunctionType.NONE:
                raise NotImplementedError(f"operator {k}: ADD with a fused activation")
            steps.append(("add", inputs, output, None))
        elif kind == "AVERAGE_POOL_2D":
            opts = options(op, tflite.Pool2DOptions)
            if opts.Padding() != tflite.Padding.VALID or opts.FusedActivationFunction():
                raise NotImplementedError(f"operator {k}: AVERAGE_POOL_2D with SAME padding or an activation")
            steps.append(("pool", inputs[:1], output, (opts.FilterHeight(), opts.FilterWidth(), opts.StrideH())))
        elif kind == "RESHAPE":
            if len(graph.Tensors(output).ShapeAsNumpy()) != 2:
                raise NotImplementedError(f"operator {k}: RESHAPE to other than [batch, n]")
            steps.append(("flatten", inputs[:1], output, None))
        elif kind == "SOFTMAX":
            steps.append(("softmax", inputs, output, None))
        else:
            raise NotImplementedError(f"operator {k}: {kind} is not supported")
    names = {}
    for i in range(graph.TensorsLength()):
        names.setdefault(graph.Tensors(i).Name().decode().split(";")[0], i)
    return steps, convs, names, int(graph.InputsAsNumpy()[0])


class MobileNetV2StandIn(nn.Module):
    """MobileNetV2 read from TFLite, frozen, as a sketch encoder (see the module docstring)."""

    name = "mobilenet_v2-standin"
    input_size = 224
    mean = (0.5, 0.5, 0.5)
    std = (0.5, 0.5, 0.5)
    compute_dtypes = (torch.float32, torch.bfloat16)

    def __init__(self, path: Path):
        super().__init__()
        self.steps, self.convs, names, self.input_id = _read_graph(path)
        self.layer2_id, self.layer3_id = names[LAYER2], names[LAYER3]
        pool = next(s for s in self.steps if s[0] == "pool")
        self.map_id, self.pooled_id = pool[1][0], pool[2]
        head = next(s for s in self.steps if s[0] == "conv" and s[1][0] == self.pooled_id)
        self.classifier_index = head[3]
        self.logits_id = next(s[2] for s in self.steps if s[0] == "flatten")
        self.register_buffer("layer2_rms", torch.ones(()))
        self.register_buffer("layer3_rms", torch.ones(()))
        self.eval().requires_grad_(False)
        with torch.no_grad():
            ref = self.features((reference_photo(self.input_size)[None] - 0.5) / 0.5)
        self.layer2_rms.fill_(ref.layer2.square().mean().sqrt().item())
        self.layer3_rms.fill_(ref.layer3.square().mean().sqrt().item())

    @property
    def classifier(self) -> nn.Conv2d:
        """The classifier: a 1x1 conv 1280 -> 1001 on the pooled features."""
        return self.convs[self.classifier_index]

    def _run(self, x: torch.Tensor, targets: list[int]) -> list[torch.Tensor]:
        """Values of the graph's tensors ``targets`` for input x [B, 3, H, W] (NCHW)."""
        values = {self.input_id: x}
        for kind, inputs, output, arg in self.steps:
            if all(t in values for t in targets):
                break
            a = values[inputs[0]]
            if kind == "conv":
                values[output] = self.convs[arg](a)
            elif kind == "add":
                values[output] = a + values[inputs[1]]
            elif kind == "pool":
                values[output] = F.avg_pool2d(a, arg[:2], arg[2])
            elif kind == "flatten":
                values[output] = a.flatten(1)
            else:
                values[output] = a.softmax(-1)
        return [values[t] for t in targets]

    def features(self, images: torch.Tensor) -> Features:
        """images [B, 3, 224, 224] in [-1, 1] -> layer2 [B, 32, 28, 28], layer3 [B, 96, 14, 14]
        (both RMS-scaled), embedding [B, 1280]."""
        layer2, layer3, pooled = self._run(images, [self.layer2_id, self.layer3_id, self.pooled_id])
        return Features(layer2 / self.layer2_rms.to(layer2.dtype), layer3 / self.layer3_rms.to(layer3.dtype),
                        pooled.flatten(1))

    def classify(self, images: torch.Tensor) -> torch.Tensor:
        """images [B, 3, 224, 224] in [-1, 1] -> logits [B, 1001] (index 0 = background)."""
        return self._run(images, [self.logits_id])[0]

    @torch.no_grad()
    def attention(self, image: torch.Tensor) -> torch.Tensor:
        """image [3, 224, 224] in [-1, 1] -> saliency [224, 224] in 0..1: class activation map of the
        top non-background class (its classifier weights x the [1280, 7, 7] final map, ReLU, bicubic
        upsampling, min-max normalised)."""
        fmap, logits = self._run(image[None], [self.map_id, self.logits_id])
        top = int(logits[0, 1:].argmax()) + 1
        weights = self.classifier.weight[top, :, 0, 0].to(fmap.dtype)
        cam = torch.einsum("c,chw->hw", weights, fmap[0]).relu()[None, None].float()
        cam = F.interpolate(cam, size=image.shape[-2:], mode="bicubic", align_corners=False)[0, 0]
        return (cam - cam.min()) / (cam.max() - cam.min()).clamp_min(1e-12)


def load_standin(path: str | Path = DEFAULT_PATH) -> MobileNetV2StandIn:
    """The stand-in encoder read from the TFLite file ``path`` (frozen, float32, CPU)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MobileNetV2 stand-in model not found: {path.resolve()} "
                                "(expected in ../shared/models/mobilenet_v2/ beside the repository)")
    return MobileNetV2StandIn(path)
