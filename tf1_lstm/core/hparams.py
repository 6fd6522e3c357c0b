"""The original program's hyperparameters, in one place.

Every default in the CLI, the graph and the training loop comes from here, so "faithful" is
one file to read against the blog post (reference/original.py).
"""

N_INPUTS = 28          # pixels per row: the features of one time step
N_STEPS = 28           # rows: the sequence length
N_NEURONS = 150        # units in the recurrent cell
N_OUTPUTS = 10         # classes: the ten digits (ten kinds of clothing in Fashion-MNIST)
FORGET_BIAS = 1.0      # BasicLSTMCell(forget_bias=1.0)
LEARNING_RATE = 0.01   # AdamOptimizer(learning_rate=0.01)
BATCH_SIZE = 64
STEPS = 10000          # for i in range(10000)
LOG_EVERY = 200        # if i % 200 == 0: print('train accuracy =', ...)
VALIDATION_SIZE = 5000  # read_data_sets' default split: 55,000 train / 5,000 validation

# --- not the post's: variants the studies build with core.model (after its marker) -----------
IMPLS = ("basic", "block", "fused")  # LSTM kernels: the original's, and two proven equal
