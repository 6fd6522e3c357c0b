"""A trained model, loaded back from a run directory: the one door for evaluate, predict, export.

The graph is rebuilt with `model.build` (the same function training used) and the final weights
restored into it, so a restored model is the trained graph itself, not a re-implementation.
"""

import contextlib
import os
from typing import Any, NamedTuple

import numpy as np

from tf1_lstm.core import checkpoints, hparams, tfcompat
from tf1_lstm.core.records import NotBelieved, read_run_config, seal_of
from tf1_lstm.core.training import RunConfig
from tf1_lstm.util.files import atomic_dir, ensure_dir


class Loaded(NamedTuple):
    """A run's final weights in a live session, and the tensors to ask it with."""
    record: dict         # the run's config.json
    model: Any           # core.model.Model, rebuilt by the function training used
    probabilities: Any   # softmax of the logits [N, 10]
    classes: Any         # argmax of the logits [N]
    sess: Any            # the tf.Session holding the restored weights


@contextlib.contextmanager
def load(run_dir):
    """Yield a Loaded with a live session holding the run's final weights."""
    from tf1_lstm.core import model as model_lib
    tf = model_lib.tf
    record = read_run_config(run_dir)
    try:  # a record edited after the run finished is not the run that made these weights
        seal_of(run_dir)
    except NotBelieved as err:
        raise NotBelieved("%s: restore it as the run left it, or train the run again" % err)
    config = RunConfig.from_record(record)
    prefix = checkpoints.final_prefix(run_dir)
    with tf.Graph().as_default():
        model = model_lib.build(config)
        probabilities = tf.nn.softmax(model.logits)
        classes = tf.argmax(model.logits, 1)
        saver = tf.train.Saver()
        with tf.Session(config=model_lib.session_config(config.threads)) as sess:
            _restore(saver, sess, prefix, run_dir, record)
            yield Loaded(record, model, probabilities, classes, sess)


def _restore(saver, sess, prefix, run_dir, record):
    """The final weights, or one line saying what is wrong with them and what to do."""
    tf = tfcompat.import_tensorflow()
    try:
        saver.restore(sess, prefix)
    except (tf.errors.NotFoundError, tf.errors.InvalidArgumentError) as err:
        raise checkpoints.CheckpointError(
            "%s/model does not fit its config.json (cell=%s; %s): was config.json edited? "
            "Restore the original one" % (run_dir, record.get("cell"),
                                          str(err).splitlines()[0][:120]))
    except tf.errors.OpError as err:
        steps = checkpoints.step_dirs(run_dir)
        raise checkpoints.CheckpointError(
            "%s/model is damaged (%s); %s" % (
                run_dir, type(err).__name__,
                "the newest step checkpoint is %s: copy its files over model/ to use it, or "
                "train again" % steps[0] if steps else "no step checkpoint is left: train again"))


def as_sequences(images):
    """[N, 784] or [N, 28, 28] pixels -> the model's [N, 28 rows, 28 columns] input."""
    return np.asarray(images, dtype=np.float32).reshape(-1, hparams.N_STEPS, hparams.N_INPUTS)


def predict(loaded, images):
    """(probabilities [N, 10], classes [N]) for images in [0, 1]."""
    return loaded.sess.run([loaded.probabilities, loaded.classes],
                           {loaded.model.X: as_sequences(images)})


def export_saved_model(run_dir, out):
    """Write a SavedModel (signature `serving_default`: images [N,28,28] float32 ->
    probabilities [N,10], classes [N]) to `out`, via a temp dir renamed at the end."""
    tf = tfcompat.import_tensorflow()
    if os.path.exists(out):
        raise checkpoints.CheckpointError("%s already exists: choose a new export directory" % out)
    ensure_dir(os.path.dirname(os.path.abspath(out)))
    with atomic_dir(out) as tmp, load(run_dir) as loaded:
        info = tf.saved_model.utils.build_tensor_info
        signature = tf.saved_model.signature_def_utils.build_signature_def(
            inputs={"images": info(loaded.model.X)},
            outputs={"probabilities": info(loaded.probabilities), "classes": info(loaded.classes)},
            method_name=tf.saved_model.signature_constants.PREDICT_METHOD_NAME)
        builder = tf.saved_model.builder.SavedModelBuilder(tmp)
        builder.add_meta_graph_and_variables(
            loaded.sess, [tf.saved_model.tag_constants.SERVING],
            signature_def_map={"serving_default": signature})
        builder.save()
    return out
