"""How the TFLearn API refuses what mnistmlp does not do."""

from __future__ import annotations


def unsupported(feature: str, hint: str = "") -> NotImplementedError:
    """A NotImplementedError naming a TFLearn feature mnistmlp does not support."""
    message = f"mnistmlp.tflearn does not support {feature}"
    return NotImplementedError(message + (f": {hint}" if hint else ""))


def unsupported_layer(name: str):
    """A stand-in for a TFLearn layer outside mnistmlp's scope (multilayer perceptrons)."""

    def layer(*args, **kwargs):
        raise unsupported(
            f"tflearn.{name}",
            "mnistmlp trains multilayer perceptrons (input_data, fully_connected, dropout, regression)",
        )

    layer.__name__ = name
    layer.__doc__ = f"Not supported by mnistmlp: raises NotImplementedError."
    return layer
