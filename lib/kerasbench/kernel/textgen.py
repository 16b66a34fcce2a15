"""Sampling text from a trained character model, as the 2017 scripts did after training (untimed).

Kernel side, Python 3.6.
"""

import numpy as np

from kerasbench.kernel import compat


def sample_index(probabilities, temperature, rng):
    """The Keras example's temperature sampling: reweight log-probabilities, draw one character."""
    preds = np.asarray(probabilities).astype("float64")
    preds = np.log(np.maximum(preds, 1e-12)) / temperature
    preds = np.exp(preds - preds.max())
    preds = preds / preds.sum()
    return int(np.argmax(rng.multinomial(1, preds, 1)))


def generate(model, text, chars, maxlen, n_chars, temperature, seed, encode, head=None):
    """Seeds with a random window of the corpus and extends it by n_chars characters.

    encode(window) gives the model's input for one window (one-hot or integer ids);
    head picks one output of a multi-output model.
    """
    rng = np.random.RandomState(seed)
    char_indices = {c: i for i, c in enumerate(chars)}
    start = rng.randint(0, len(text) - maxlen - 1)
    window = text[start : start + maxlen]
    generated = []
    for _ in range(n_chars):
        preds = compat.predict_batch(model, encode(window, char_indices))
        if head is not None:
            preds = preds[head]
        next_char = chars[sample_index(preds[0], temperature, rng)]
        generated.append(next_char)
        window = window[1:] + next_char
    return {
        "seed_text": text[start : start + maxlen],
        "generated": "".join(generated),
        "temperature": temperature,
    }
