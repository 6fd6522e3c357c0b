# tf1-lstm in the stack the original was written for: TensorFlow 1.15.5, CUDA 10.0, cuDNN 7,
# Python 3.6. Build:  docker build -t tf1-lstm .
# CPU-only base:      docker build --build-arg BASE=tensorflow/tensorflow:1.15.5-py3 -t tf1-lstm:cpu .
# Pin by digest:      docker build --build-arg BASE=tensorflow/tensorflow:1.15.5-gpu-py3@sha256:<digest> .
ARG BASE=tensorflow/tensorflow:1.15.5-gpu-py3
FROM ${BASE}

ARG BASE
ARG IMAGE_TAG=tf1-lstm:0.9.0
ARG GIT_COMMIT=unknown

# The base ships TF 1.15.5 (as tensorflow-gpu in the GPU image): everything else comes from
# requirements.txt, the same pins as the local set-up. Its tensorflow line is left out so the CPU
# wheel cannot overwrite the base's GPU build, and the base's version is checked against the pin.
# pip 21.3.1 is the newest pip for Python 3.6 (and >= 19, which TF 1.15's wheels need).
WORKDIR /opt/tf1-lstm
COPY requirements.txt setup.py setup.cfg pyproject.toml ./
RUN python3 -m pip install --no-cache-dir pip==21.3.1 \
 && grep -v '^tensorflow==' requirements.txt > /tmp/requirements-image.txt \
 && python3 -m pip install --no-cache-dir -r /tmp/requirements-image.txt \
 && python3 -c "import re, tensorflow as tf; pin = re.search(r'^tensorflow==(\S+)', open('requirements.txt').read(), re.M).group(1); assert tf.__version__ == pin, (tf.__version__, pin)"

COPY tf1_lstm ./tf1_lstm
COPY reference ./reference
COPY tests ./tests
COPY data ./data
COPY docker/entrypoint /usr/local/bin/tf1-lstm-entrypoint
RUN python3 -m pip install --no-cache-dir --no-deps -e . \
 && useradd --create-home --uid 1000 tf1 \
 && mkdir /runs && chown tf1:tf1 /runs

# TF_CUDNN_DETERMINISTIC=1 makes cuDNN pick deterministic convolution/backprop algorithms; it does
# not make every GPU kernel (e.g. some reductions and scatter ops) deterministic. See README.
ENV TF1_LSTM_IMAGE=${IMAGE_TAG} \
    TF1_LSTM_IMAGE_BASE=${BASE} \
    TF1_LSTM_GIT_COMMIT=${GIT_COMMIT} \
    TF1_LSTM_DATA_DIR=/opt/tf1-lstm/data/MNIST_data \
    TF_CUDNN_DETERMINISTIC=1 \
    TF_CPP_MIN_LOG_LEVEL=2

# No USER: the entrypoint runs tf1-lstm as the owner of /runs (uid 1000 for the image's own).
WORKDIR /runs
VOLUME ["/runs"]
ENTRYPOINT ["tf1-lstm-entrypoint"]
CMD ["train"]
