"""`tf1-lstm predict`: any PNG or JPEG -> an MNIST-like 28x28 digit -> the model's answer.

MNIST digits are white on black, fitted into a 20x20 box and centred by their centre of mass
in a 28x28 frame. A 28x28 image is taken as already in that form; anything else is brought to
it the same way MNIST was made.
"""

import numpy as np

from tf1_lstm.util.errors import ToolError

SIZE, BOX = 28, 20
MAX_PIXELS = 25000000  # 5000 x 5000: far beyond a photo of a digit, far below a memory bomb
MAX_FILE_BYTES = 100 << 20  # an image file read whole: far beyond any photo of a digit
BLANK = 0.1  # an image whose shades span less than this holds no digit, whatever its size


class ImageError(ToolError):
    """An image that cannot be read or holds no digit; the message names the file."""


def read_gray(path):
    """Pixels in [0, 1], grayscale, as stored (no inversion); transparency composited."""
    import io

    from PIL import Image

    from tf1_lstm.util.files import NotARegularFile, read_bytes
    try:
        blob = read_bytes(path, MAX_FILE_BYTES)
    except (OSError, NotARegularFile) as err:
        raise ImageError("cannot read %s (%s): give a PNG or JPEG file"
                         % (path, getattr(err, "strerror", None) or err))
    pil_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # ours is lower, below
    try:
        with Image.open(io.BytesIO(blob)) as image:  # reads the header only
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageError("%s is %d x %d pixels, more than the %d-pixel limit: scale it "
                                 "down to the digit" % (path, width, height, MAX_PIXELS))
            image.load()
            has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
            pair = image.convert("LA") if has_alpha else None
            gray = image.convert("L")
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageError("cannot read %s as an image (%s): give a PNG or JPEG file" % (path, err))
    finally:
        Image.MAX_IMAGE_PIXELS = pil_limit
    if pair is not None:
        return _composited(np.asarray(pair, dtype=np.float32) / 255.0)
    return np.asarray(gray, dtype=np.float32) / 255.0


def _composited(pixels):
    """[H, W, (L, A)] -> [H, W]: the digit is what is opaque, so it is laid on a background of
    the opposite shade (a dark digit on white, a light one on black)."""
    luminance, alpha = pixels[..., 0], pixels[..., 1]
    if alpha.min() >= 1.0:
        return luminance
    ink = float((luminance * alpha).sum() / max(alpha.sum(), 1e-6))
    background = 1.0 if ink < 0.5 else 0.0
    return luminance * alpha + background * (1.0 - alpha)


def needs_invert(pixels):
    """A light border means a dark digit on a light background: MNIST is the opposite."""
    edge = max(1, min(pixels.shape) // 10)
    border = np.concatenate([pixels[:edge].ravel(), pixels[-edge:].ravel(),
                             pixels[:, :edge].ravel(), pixels[:, -edge:].ravel()])
    return float(border.mean()) > 0.5


def to_mnist(pixels, invert=None):
    """[H, W] in [0, 1] -> [28, 28] float32 in MNIST's form; invert=None detects polarity."""
    from PIL import Image
    if invert is None:
        invert = needs_invert(pixels)
    if invert:
        pixels = 1.0 - pixels
    if float(pixels.max() - pixels.min()) < BLANK:
        raise ImageError("no digit found (the image is blank: its shades span less than %g)"
                         % BLANK)
    if pixels.shape == (SIZE, SIZE):
        return pixels.astype(np.float32)
    mask = pixels > 0.2 * pixels.max()
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    crop = pixels[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    scale = BOX / max(crop.shape)
    size = (max(1, int(round(crop.shape[1] * scale))), max(1, int(round(crop.shape[0] * scale))))
    small = np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).resize(
        size, Image.LANCZOS), dtype=np.float32) / 255.0
    frame = np.zeros((SIZE, SIZE), dtype=np.float32)
    total = small.sum()
    cy, cx = ((np.indices(small.shape) * small).reshape(2, -1).sum(axis=1) / total
              if total > 0 else (small.shape[0] / 2.0, small.shape[1] / 2.0))
    top = int(round(SIZE / 2.0 - cy))
    left = int(round(SIZE / 2.0 - cx))
    top = min(max(top, 0), SIZE - small.shape[0])
    left = min(max(left, 0), SIZE - small.shape[1])
    frame[top:top + small.shape[0], left:left + small.shape[1]] = small
    return frame


def load_images(paths, invert=None):
    """[N, 28, 28] model inputs for image files, and whether each was inverted."""
    images, inverted = [], []
    for path in paths:
        pixels = read_gray(path)
        flip = needs_invert(pixels) if invert is None else invert
        try:
            images.append(to_mnist(pixels, invert=flip))
        except ImageError as err:
            raise ImageError("%s: %s" % (path, err))
        inverted.append(bool(flip))
    return np.stack(images), inverted
