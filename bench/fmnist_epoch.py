#!/usr/bin/env python3
"""Times one training epoch of ResNet-20 on Fashion-MNIST in PyTorch or TensorFlow/Keras, with the
recipe of `resnet train` (SwiftResNet's default run), so that bench/compare.py can set SwiftResNet's
epoch time beside its peers'. The model is ResNet-20 of He et al. 2015, sec. 4.2: CIFAR stem (3x3 conv,
16 channels), 3 stages of 3 basic blocks (16/32/64 channels, stages 2 and 3 start with stride 2), shortcut
option A (identity; zero channels appended and stride-2 subsampling where the shape changes, no
projection), global average pool, linear 64->10; BN momentum 0.1 (torch convention), eps 1e-5, bias-free
He-normal convs. Data: the first --images 28x28 grayscale training images, pixels / 255, no augmentation,
shuffled, batch 128 (the last batch partial). SGD lr 0.1 (constant), momentum 0.9, Nesterov, weight
decay 5e-4.

Only the epoch's training pass is timed: the model is built, the data is in memory, and a 2-batch
warm-up on images outside the epoch (which also traces TensorFlow's tf.function for both batch shapes)
has run. Prints one JSON line: {"framework", "images", "epoch_seconds", "images_per_second",
"final_loss" (mean of the last 10 batches), "peak_rss_bytes"} plus "first_loss" (first batch) and
"mean_loss" (the epoch mean, as the `loss` column of SwiftResNet's history.csv)."""
import argparse, gzip, json, os, resource, statistics, time

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("--framework", choices=["torch", "tensorflow"], required=True)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--images", type=int, default=54000, help="train on the first N images (SwiftResNet's 9:1 split of 60000 trains on 54000)")
p.add_argument("--batch-size", type=int, default=128)
p.add_argument("--dataset-dir", default="/usr/share/datasets/fashion-mnist")
p.add_argument("--seed", type=int, default=0)
a = p.parse_args()

LR, MOMENTUM, WEIGHT_DECAY, WIDTHS, BLOCKS = 0.1, 0.9, 5e-4, (16, 32, 64), 3


def read_idx(path):
    """An IDX file (gzip): magic 0x000008NN (NN = number of dimensions), big-endian int32 sizes, then uint8 data."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


images = read_idx(os.path.join(a.dataset_dir, "train-images-idx3-ubyte.gz"))
labels = read_idx(os.path.join(a.dataset_dir, "train-labels-idx1-ubyte.gz")).astype(np.int64)
if a.images > len(images):
    p.error(f"--images {a.images}: the training file has only {len(images)}")
x_all = (images.astype(np.float32) * (1 / 255))[..., None]  # NHWC, N x 28 x 28 x 1
# Warm-up batches come from the end of the file (outside the epoch unless --images is nearly 60000): one
# full batch and one of the epoch's last-batch size, so both shapes are traced/allocated before timing.
last = a.images % a.batch_size or a.batch_size
warm = [slice(len(images) - a.batch_size - last, len(images) - last), slice(len(images) - last, len(images))]
order = np.random.default_rng(a.seed).permutation(a.images)
batches = [order[i:i + a.batch_size] for i in range(0, a.images, a.batch_size)]


def run_torch():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    cl = torch.channels_last

    def conv(cin, cout, stride=1):
        c = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        nn.init.kaiming_normal_(c.weight, nonlinearity="relu")
        return c

    def bn(c):
        return nn.BatchNorm2d(c, eps=1e-5, momentum=0.1)

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1, self.bn1, self.conv2, self.bn2 = conv(cin, cout, stride), bn(cout), conv(cout, cout), bn(cout)
            self.stride, self.pad = stride, cout - cin

        def forward(self, x):
            out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
            sc = x
            if self.stride != 1:
                sc = sc[:, :, ::self.stride, ::self.stride]
            if self.pad:  # option A: append zero channels (F.pad keeps channels_last)
                sc = F.pad(sc, (0, 0, 0, 0, 0, self.pad))
            return F.relu(out + sc)

    layers, cin = [conv(1, 16), bn(16), nn.ReLU()], 16
    for stage, width in enumerate(WIDTHS):
        for i in range(BLOCKS):
            layers.append(Block(cin, width, 2 if stage > 0 and i == 0 else 1))
            cin = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]
    net = nn.Sequential(*layers).to(memory_format=cl).train()
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM, nesterov=True, weight_decay=WEIGHT_DECAY)
    loss_fn = nn.CrossEntropyLoss()
    xs, ys = torch.from_numpy(x_all).permute(0, 3, 1, 2), torch.from_numpy(labels)  # NCHW view of NHWC memory

    def step(idx):
        idx = torch.as_tensor(idx)
        loss = loss_fn(net(xs[idx].contiguous(memory_format=cl)), ys[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def run_tensorflow():
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(a.threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ["OMP_NUM_THREADS"] = str(a.threads)
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # as in tensorflow_resnet.py: oneDNN even without AVX512
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras
    from keras import layers as L

    keras.utils.set_random_seed(a.seed)

    def conv(x, cout, stride=1):
        # "same" pads stride-2 convs bottom/right only (torch pads both sides): the same cost.
        return L.Conv2D(cout, 3, stride, padding="same", use_bias=False, kernel_initializer="he_normal")(x)

    def bn(x):
        return L.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)

    def block(x, cout, stride):
        cin = x.shape[-1]
        out = bn(conv(L.ReLU()(bn(conv(x, cout, stride))), cout))
        sc = x
        if stride != 1 or cout != cin:  # option A: subsample and append zero channels
            sc = L.Lambda(lambda t: tf.pad(t[:, ::stride, ::stride, :], [[0, 0], [0, 0], [0, 0], [0, cout - cin]]))(x)
        return L.ReLU()(L.Add()([out, sc]))

    inp = keras.Input((28, 28, 1))
    x = L.ReLU()(bn(conv(inp, 16)))
    for stage, width in enumerate(WIDTHS):
        for i in range(BLOCKS):
            x = block(x, width, 2 if stage > 0 and i == 0 else 1)
    x = L.Dense(10)(L.GlobalAveragePooling2D()(x))
    net = keras.Model(inp, x)
    # Keras's weight_decay is decoupled (w -= lr * wd * w) where torch adds wd * w to the gradient: the same work.
    opt = keras.optimizers.SGD(learning_rate=LR, momentum=MOMENTUM, nesterov=True, weight_decay=WEIGHT_DECAY)
    opt.build(net.trainable_variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function(jit_compile=False)
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, net(x, training=True))
        opt.apply_gradients(zip(tape.gradient(loss, net.trainable_variables), net.trainable_variables))
        return loss

    def step(idx):
        return float(train_step(tf.constant(x_all[idx]), tf.constant(labels[idx].astype(np.int32))).numpy())

    return step


step = run_torch() if a.framework == "torch" else run_tensorflow()
for s in warm:
    step(np.arange(len(images))[s])
losses = []
start = time.perf_counter()
for idx in batches:
    losses.append(step(idx))
seconds = time.perf_counter() - start
print(json.dumps({"framework": a.framework, "images": a.images, "epoch_seconds": seconds,
                  "images_per_second": a.images / seconds, "final_loss": statistics.mean(losses[-10:]), "first_loss": losses[0],
                  "mean_loss": statistics.mean(losses),
                  "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
