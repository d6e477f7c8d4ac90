"""A stand-in ``torchvision`` for running NeuralSAT on fully connected ReLU networks.

PyPI's torchvision does not import beside the machine's CPU build of torch 2.13.0
(``operator torchvision::nms does not exist``). NeuralSAT imports torchvision only to
translate the ONNX NonMaxSuppression operator, which no network of the benchmark has.
This directory is put first on ``PYTHONPATH`` for NeuralSAT's process only (see
``benchmarks/peers/neuralsat.py``); nothing else imports it. Using it on a network that
does need NonMaxSuppression fails loudly instead of computing something else.
"""

__version__ = "0.0+reluscope-shim"


class _Ops:
    """``torchvision.ops`` functions NeuralSAT names; none is available here."""

    @staticmethod
    def _missing(*_args, **_kwargs):
        raise NotImplementedError("torchvision shim: NonMaxSuppression is not supported in this benchmark")

    nms = _missing
    box_convert = _missing


ops = _Ops()
