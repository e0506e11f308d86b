"""``nnlite.fit`` as the learning tests call it: quiet, batches of 32, seed 0 and cross-entropy unless told."""

import nnlite as nn


def fit_quietly(net, rule, optimizer, train, test=None, *, loss=nn.softmax_cross_entropy, **kwargs):
    """``nn.fit(net, rule, loss, optimizer, train, test, ...)`` with no progress bar; ``kwargs`` go to fit."""
    kwargs = {"batch_size": 32, "seed": 0, **kwargs}
    return nn.fit(net, rule, loss, optimizer, train, test, progress=False, **kwargs)


def fashion_accuracy(d, rule, optimizer, hidden=(256, 256)):
    """Test accuracy of a tanh MLP (seed 0) after one epoch on the first 10 000 training samples of ``d``."""
    net = nn.mlp([784, *hidden, 10], "tanh", seed=0)
    h = fit_quietly(net, rule, optimizer, (d.x_train[:10000], d.y_train[:10000]), (d.x_test, d.y_test), epochs=1)
    return h.test_acc[-1]


def train_step(net, rule, optimizer, x, y):
    """One step as fit() takes it (:func:`nnlite.training.step`: forward, loss, the rule's step, the update and
    the rule's own change); its gradients."""
    return nn.training.step(net, rule, nn.softmax_cross_entropy, optimizer, x, y).grads
