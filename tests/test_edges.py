"""XDoG edges: the original CLIPasso's binarised edge map, checked against a reference written here
from shared/method.md (Pipeline item 3) with plain numpy + scipy.ndimage (no scikit-image)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from clipasso_core.edges import xdog_edges

CAT = Path(__file__).resolve().parents[1] / "clipasso_core" / "data" / "cat.jpg"
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)  # OpenAI CLIP's normalisation
STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)
GREY = np.array([0.2125, 0.7154, 0.0721], np.float32)  # scikit-image's rgb2gray weights


def otsu(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold: 256 equal bins over [min, max]; for each split between bin i and i + 1 the
    between-class variance w0 w1 (m0 - m1)^2 (counts, and means of the bin centres); the threshold
    is the centre of bin i at the first maximum. Cumulative sums, so that splits next to empty
    bins tie exactly and the first one wins."""
    counts, edges = np.histogram(values.ravel(), bins=bins, range=(values.min(), values.max()))
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(counts)[:-1]
    w1 = np.cumsum(counts[::-1])[::-1][1:]
    m0 = np.cumsum(counts * centres)[:-1] / w0
    m1 = np.cumsum((counts * centres)[::-1])[::-1][1:] / w1
    return float(centres[np.argmax(w0 * w1 * (m0 - m1) ** 2)])


def reference_xdog(rgb: np.ndarray, textbook: bool = False, gamma=0.98, phi=200.0, eps=-0.1,
                   sigma=0.8, k=10.0) -> np.ndarray:
    """method.md item 3 step by step; ``textbook`` swaps the soft threshold's branches back."""
    normed = (rgb.astype(np.float32) - MEAN) / STD
    grey = normed @ GREY
    diff = ndimage.gaussian_filter(grey, sigma) - gamma * ndimage.gaussian_filter(grey, sigma * k)
    ramp = (1.0 + np.tanh(phi * diff)).astype(np.float64)
    soft = np.where(diff >= eps, 1.0, ramp) if textbook else np.where(diff < eps, 1.0, ramp)
    soft = soft - soft.min()
    soft = soft / soft.max()
    return soft < otsu(soft)


def cat_224() -> np.ndarray:
    image = Image.open(CAT).convert("RGB").resize((224, 224), Image.BILINEAR)
    return np.asarray(image, np.float32) / 255


def synthetic_224() -> np.ndarray:
    """Smooth noise, a horizontal ramp, a dark disc and a light square: flat, soft and hard edges."""
    rng = np.random.default_rng(7)
    img = ndimage.gaussian_filter(rng.uniform(0, 1, (224, 224, 3)), (3, 3, 0)) * 0.4 + 0.3
    yy, xx = np.mgrid[:224, :224]
    img *= (0.6 + 0.4 * xx / 223)[..., None]
    img[(xx - 80) ** 2 + (yy - 90) ** 2 < 40 ** 2] = (0.15, 0.1, 0.05)
    img[130:200, 120:210] = (0.9, 0.85, 0.95)
    return img.astype(np.float32)


def disc_224() -> np.ndarray:
    yy, xx = np.mgrid[:224, :224]
    img = np.ones((224, 224, 3), np.float32)
    img[(xx - 112) ** 2 + (yy - 112) ** 2 < 60 ** 2] = 0.1
    return img


def test_xdog_equals_the_reference_on_the_bundled_cat():
    rgb = cat_224()
    edges = xdog_edges(rgb)
    assert edges.shape == (224, 224) and edges.dtype == bool
    assert np.array_equal(edges, reference_xdog(rgb))
    assert 0.2 < edges.mean() < 0.6  # the original's map is dense: dark regions count as edge


def test_xdog_equals_the_reference_on_a_synthetic_image():
    rgb = synthetic_224()
    edges = xdog_edges(rgb)
    assert 0 < edges.mean() < 1
    assert np.array_equal(edges, reference_xdog(rgb))


def test_xdog_soft_threshold_has_the_originals_branches():
    """Inside a flat dark disc D = (1 - gamma) I is slightly negative (eps <= D < 0): the original's
    branch gives 1 + tanh(phi D), near 0, so the disc's inside is edge; the textbook branches give
    1 there, so only an outline would be."""
    rgb = disc_224()
    edges = xdog_edges(rgb)
    assert np.array_equal(edges, reference_xdog(rgb))
    textbook = reference_xdog(rgb, textbook=True)
    assert edges[112, 112] and not textbook[112, 112]
    assert not edges[5, 5]  # the white background is no edge
    yy, xx = np.mgrid[:224, :224]
    inside = (xx - 112) ** 2 + (yy - 112) ** 2 < 55 ** 2
    assert edges[inside].all() and not edges[(xx - 112) ** 2 + (yy - 112) ** 2 > 62 ** 2].any()


def test_xdog_works_on_the_clip_normalised_image():
    """The XDoG input is the CLIP-normalised target: the map is not the one of the 0..1 image."""
    rgb = synthetic_224()

    def unnormalised(img):
        grey = img @ GREY
        diff = ndimage.gaussian_filter(grey, 0.8) - 0.98 * ndimage.gaussian_filter(grey, 8.0)
        soft = np.where(diff < -0.1, 1.0, (1.0 + np.tanh(200 * diff)).astype(np.float64))
        soft = (soft - soft.min()) / (soft.max() - soft.min())
        return soft < otsu(soft)
    assert not np.array_equal(xdog_edges(rgb), unnormalised(rgb))


def test_xdog_of_a_blank_image_has_no_edges():
    assert not xdog_edges(np.ones((64, 64, 3), np.float32)).any()
    assert not xdog_edges(np.zeros((64, 64, 3), np.float32)).any()
