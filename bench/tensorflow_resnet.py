#!/usr/bin/env python3
"""Times a keras.applications ResNet the way `resnet benchmark` times SwiftResNet: same model, batch,
image size, threads, burn-in and timed steps, in TensorFlow's default CPU path (graph mode through
tf.function, oneDNN kernels, NHWC; no XLA), so the third column of bench/compare.py is what a Keras
user gets out of the box. Same CLI and output as pytorch_resnet.py; prints one JSON line:
{"model", "mode", "median", "mean", "std", "peak_rss_bytes"}, or {"model", "mode", "unsupported": true}
for a SwiftResNet model that keras.applications lacks."""
import os

from peer_timing import exit_unsupported, parse_args, time_and_report

# keras.applications by SwiftResNet's registry names (v1 = ResNet50..., v2 = the pre-activation ResNet50V2...).
MODELS = {"resnet50": "ResNet50", "resnet101": "ResNet101", "resnet152": "ResNet152",
          "resnet_v2_50": "ResNet50V2", "resnet_v2_101": "ResNet101V2", "resnet_v2_152": "ResNet152V2"}

a = parse_args(warmup_help="untimed steps, the first of which traces the tf.function",
               nchw_help="accepted for pytorch_resnet.py's CLI; TensorFlow's CPU kernels are NHWC only")
if a.model not in MODELS:
    exit_unsupported(a)
if a.precision != "fp32":
    exit_unsupported(a, "precision")  # compared in fp32 only: the bf16 peers are PyTorch autocast and OpenVINO

# Threads must be fixed before TensorFlow starts its thread pools, i.e. before the import and the first op.
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
os.environ["TF_NUM_INTRAOP_THREADS"] = str(a.threads)
os.environ["TF_NUM_INTEROP_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = str(a.threads)
# TensorFlow turns its oneDNN kernels on by default only on CPUs with AVX512-VNNI/AMX; elsewhere (e.g. an
# AVX2 EPYC) it falls back to Eigen, which trains ResNet-50 about 2x slower. Compare against the faster path;
# TF_ENABLE_ONEDNN_OPTS=0 in the environment still turns it off.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(a.threads)
tf.config.threading.set_inter_op_parallelism_threads(1)
import keras  # noqa: E402

# classifier_activation=None: the head gives logits, as torchvision's and SwiftResNet's do.
net = getattr(keras.applications, MODELS[a.model])(weights=None, classes=1000, classifier_activation=None,
                                                  input_shape=(a.image_size, a.image_size, 3))
x = tf.random.uniform((a.batch_size, a.image_size, a.image_size, 3))
y = tf.random.uniform((a.batch_size,), maxval=1000, dtype=tf.int32)
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
opt = keras.optimizers.SGD(learning_rate=1e-4, momentum=0.9)
opt.build(net.trainable_variables)  # create the momentum slots outside the traced function


@tf.function(jit_compile=False)
def forward(x):
    return net(x, training=False)


@tf.function(jit_compile=False)
def backward(x, y):
    with tf.GradientTape() as tape:
        loss = loss_fn(y, net(x, training=True))
    grads = tape.gradient(loss, net.trainable_variables)
    if a.mode == "train":
        opt.apply_gradients(zip(grads, net.trainable_variables))
        return loss, []
    return loss, grads  # returned so that graph pruning cannot drop the unused gradients


def step():
    # .numpy() waits for the step to finish, so each timed step is complete.
    if a.mode == "forward":
        forward(x).numpy()
    else:
        backward(x, y)[0].numpy()


time_and_report(a, step, onednn=os.environ["TF_ENABLE_ONEDNN_OPTS"] not in ("0", "false", "False"))
