"""Every rule on convolutional networks: identities that cannot hold by accident, and learning on Fashion-MNIST."""

import numpy as np
import pytest
from gradcheck import numerical_gradient, rel_error

import nnlite
from nnlite.layers import BatchNorm, Conv2d, Dense, Dropout, Flatten, MaxPool2d, Tanh


def flat(dicts):
    """All arrays of a list of gradient dicts as one vector (sorted keys): a conv bias before batch norm has a
    zero gradient (batch norm removes it), so errors are measured against the whole block's scale."""
    return np.concatenate([d[k].ravel() for d in dicts for k in sorted(d)])


def small_cnn(dtype=np.float64, batch_norm=False, dropout=0.0, seed=0):
    """conv 3x3 pad 1 -> [BN] -> tanh -> maxpool 2 -> [dropout] -> conv 3x3 pad 1 -> [BN] -> tanh -> maxpool 2
    stride 1 -> [dropout] -> flatten -> Dense(5), on (2, 8, 8) inputs."""
    rng = np.random.default_rng(seed)
    layers = [Conv2d(2, 3, 3, padding=1, dtype=dtype, rng=rng)]
    if batch_norm:
        layers.append(BatchNorm(3, dtype=dtype))
    layers += [Tanh(), MaxPool2d(2)]
    if dropout:
        layers.append(Dropout(dropout, seed=1))
    layers.append(Conv2d(3, 4, 3, stride=1, padding=1, dtype=dtype, rng=rng))
    if batch_norm:
        layers.append(BatchNorm(4, dtype=dtype))
    layers += [Tanh(), MaxPool2d(2, stride=1)]
    if dropout:
        layers.append(Dropout(dropout, seed=2))
    layers += [Flatten(), Dense(4 * 3 * 3, 5, dtype=dtype, rng=rng)]
    return nnlite.Sequential(layers, input_shape=(2, 8, 8))


def batch(net, n=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n,) + net.input_shape).astype(net.dtype)
    y = rng.integers(0, net.n_outputs, n)
    return x, y


def step(net, x, y):
    out, caches = net.forward(x, train=True)
    _, e = nnlite.softmax_cross_entropy(out, y)
    return caches, e


def assert_shapes(net, grads):
    params = net.params()
    assert len(grads) == len(params)
    for g, p in zip(grads, params):
        assert set(g) == set(p)
        for k in p:
            assert g[k].shape == p[k].shape and g[k].dtype == p[k].dtype and np.all(np.isfinite(g[k]))


@pytest.mark.parametrize("batch_norm", [False, True])
def test_fa_with_B_equal_W_is_bp_on_a_conv_net(batch_norm):
    net = nnlite.cnn((2, 8, 8), 5, channels=(3, 4, 3), kernel_size=3, batch_norm=batch_norm, dtype=np.float64, seed=0)
    x, y = batch(net)
    caches, e = step(net, x, y)
    bp = nnlite.BP().gradients(net, caches, e, y)
    fa = nnlite.FA(feedbacks=[None] + [net.weight_layer(k).W for k in range(1, net.n_blocks)])
    got = fa.gradients(net, caches, e, y)
    assert_shapes(net, got)
    for a, b in zip(got, bp):
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    # a random FA differs from BP below the output block and agrees on it
    rnd = nnlite.FA(seed=3).gradients(net, caches, e, y)
    assert_shapes(net, rnd)
    np.testing.assert_array_equal(rnd[-1]["W"], bp[-1]["W"])
    assert rel_error(rnd[0]["W"], bp[0]["W"]) > 1e-3


@pytest.mark.parametrize(
    "make_rule",
    [lambda: nnlite.DFA(seed=1), lambda: nnlite.IFA(seed=1), lambda: nnlite.LAFS(seed=1), lambda: nnlite.FA(seed=1)],
)
def test_rules_on_a_conv_net_with_batchnorm_and_dropout(make_rule):
    net = small_cnn(np.float32, batch_norm=True, dropout=0.25)
    x, y = batch(net, n=8)
    caches, e = step(net, x, y)
    rule = make_rule()
    grads, signals = rule.gradients_and_signals(net, caches, e, y)
    assert_shapes(net, grads)
    assert [s.shape[1:] for s in signals] == net.block_shapes[:-1]
    bp = nnlite.BP().gradients(net, caches, e, y)
    # the output block gets e under every rule: its gradient is BP's, exactly
    for k in bp[-1]:
        np.testing.assert_array_equal(grads[-1][k], bp[-1][k])
    # batch norm's gamma/beta train from their block's signal: nonzero, and not BP's
    for j in (1, 3):
        assert np.abs(grads[j]["gamma"]).max() > 0
        assert rel_error(grads[j]["gamma"], bp[j]["gamma"]) > 1e-3
    a = nnlite.alignment.measure(net, rule, caches, e, y)
    assert len(a.signal_cos) == net.n_blocks - 1 and all(-1 <= c <= 1 for c in a.signal_cos)


def test_dfa_hidden_conv_blocks_get_e_projected_onto_their_flattened_output():
    net = small_cnn(np.float64, batch_norm=True)
    x, y = batch(net)
    caches, e = step(net, x, y)
    rule = nnlite.DFA(seed=4)
    grads = rule.gradients(net, caches, e, y)
    slices = net.block_param_slices()
    for k in range(net.n_blocks - 1):
        Bk = rule.feedback_matrix(net, k)
        assert Bk.shape == (int(np.prod(net.block_shapes[k])), 5)
        g = (e @ Bk.T).reshape((e.shape[0],) + net.block_shapes[k])
        _, ref, _ = net.backward_block(k, g, caches, need_dx=False)
        assert rel_error(flat([grads[j] for j in slices[k]]), flat(ref)) < 1e-12


def _pick(v, h, k):
    """Max pooling's selection written as loops: v at the positions of h's window maxima (stride k)."""
    N, C, H, W = h.shape
    OH, OW = H // k, W // k
    out = np.empty((N, C, OH, OW))
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    win = h[n, c, i * k : i * k + k, j * k : j * k + k]
                    a, b = np.unravel_index(np.argmax(win), win.shape)
                    out[n, c, i, j] = v[n, c, i * k + a, j * k + b]
    return out


def test_ifa_carries_delta_forward_through_pooling_and_the_next_convolution():
    rng = np.random.default_rng(0)
    c1, c2 = (
        Conv2d(2, 3, 3, padding=1, dtype=np.float64, rng=rng),
        Conv2d(3, 4, 3, padding=1, dtype=np.float64, rng=rng),
    )
    net = nnlite.Sequential(
        [c1, Tanh(), MaxPool2d(2), c2, Tanh(), MaxPool2d(2), Flatten(), Dense(16, 5, dtype=np.float64, rng=rng)],
        input_shape=(2, 8, 8),
    )
    x, y = batch(net)
    caches, e = step(net, x, y)
    rule = nnlite.IFA(seed=2)
    grads, g = rule.gradients_and_signals(net, caches, e, y)
    _, _, delta1 = net.backward_block(0, g[0], caches, need_dx=False)
    a1 = caches.block_outputs[0]  # h_1 = maxpool(tanh(a_1))
    t1 = np.tanh(c1.forward(x)[0])
    v = _pick(delta1, t1, 2)  # through pooling by the same winners
    assert rel_error(caches.block_outputs[0], _pick(t1, t1, 2)) < 1e-12 and a1.shape == v.shape
    u = c2.forward(v)[0] - c2.b.reshape(1, -1, 1, 1)  # the next convolution, no bias
    t2 = np.tanh(c2.forward(a1)[0])
    expected = _pick(u, t2, 2).reshape(x.shape[0], -1)  # its pooling, then flatten
    assert rel_error(g[1], expected) < 1e-12
    _, ref, _ = net.backward_block(1, g[1], caches, need_dx=False)
    for name in ref[0]:
        assert rel_error(grads[1][name], ref[0][name]) < 1e-12


def test_lafs_conv_block_update_is_the_gradient_of_its_local_loss():
    net = small_cnn(np.float64, batch_norm=True)
    x, y = batch(net)
    rule = nnlite.LAFS(seed=5)
    caches, e = step(net, x, y)
    grads = rule.gradients(net, caches, e, y)
    params = net.params()
    slices = net.block_param_slices()
    eps = 1e-6
    for k in range(net.n_blocks - 1):
        fds = []

        def local_loss():
            _, c = net.forward(x, train=True)
            return rule.local_losses(net, c, y)[k]

        for j in slices[k]:
            for name, p in params[j].items():
                fds.append({name: numerical_gradient(local_loss, p, eps)})
        got = [{name: grads[j][name]} for j in slices[k] for name in params[j]]
        assert rel_error(flat(got), flat(fds)) < 1e-6, k


# -- learning on Fashion-MNIST ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fashion(fashion_mnist_images):
    ds = fashion_mnist_images
    return (ds.x_train[:10000], ds.y_train[:10000]), (ds.x_test[:2000], ds.y_test[:2000])


@pytest.mark.parametrize("rule, lr, threshold", [(nnlite.BP(), 0.05, 0.82), (nnlite.DFA(seed=1), 0.01, 0.70)])
def test_cnn_learns_fashion_mnist_in_one_epoch(fashion, rule, lr, threshold):
    train, test = fashion
    net = nnlite.cnn((1, 28, 28), 10, seed=0)
    h = nnlite.fit(
        net,
        rule,
        nnlite.softmax_cross_entropy,
        nnlite.SGD(lr, momentum=0.9),
        train,
        test,
        epochs=1,
        batch_size=64,
        seed=0,
        progress=False,
    )
    assert h.stopped is None
    assert h.test_acc[-1] >= threshold, h.test_acc
