"""Pure array functions: forward/backward pairs that the layers call.

Each submodule re-exported here: dense (affine, dropout), activations (the elementwise
ones, each an Activation usable as f(x), .forward/.backward and .derivative; softmax and
log-softmax), losses (MSE, L1, binary and softmax cross-entropy, NLL), conv (convolution,
pooling) and recurrent (RNN/LSTM/GRU steps).
"""

from .activations import (
    ACTIVATIONS,
    Activation,
    elu,
    gaussian,
    gelu,
    hard_tanh,
    identity,
    leaky_relu,
    log_softmax,
    log_softmax_backward,
    log_softmax_forward,
    relu,
    sigmoid,
    silu,
    softmax,
    softmax_backward,
    softmax_forward,
    softmax_jacobian,
    softplus,
    softsign,
    step,
    tanh,
)
from .conv import (
    avgpool2d_backward,
    avgpool2d_forward,
    avgpool2d_naive_backward,
    avgpool2d_naive_forward,
    conv2d_backward,
    conv2d_forward,
    conv2d_naive_backward,
    conv2d_naive_forward,
    conv_output_size,
    explain_output_size,
    maxpool2d_backward,
    maxpool2d_forward,
    maxpool2d_naive_backward,
    maxpool2d_naive_forward,
)
from .dense import dropout_backward, dropout_forward, linear_backward, linear_forward
from .losses import (
    bce_backward,
    bce_forward,
    bce_with_logits_backward,
    bce_with_logits_forward,
    cross_entropy_backward,
    cross_entropy_forward,
    l1_backward,
    l1_forward,
    mse_backward,
    mse_forward,
    nll_backward,
    nll_forward,
    one_hot,
)
from .recurrent import (
    embedding_backward,
    embedding_forward,
    gru_backward,
    gru_forward,
    gru_step_backward,
    gru_step_forward,
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
)
