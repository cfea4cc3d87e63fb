"""RMSProp as written in the blog post "Some Deep Learning Optimizers", with sigma_0 = |g_0|.

Tieleman & Hinton (2012), "Lecture 6.5 - rmsprop", COURSERA: Neural Networks for
Machine Learning, in the form of the blog post "Some Deep Learning Optimizers":

    theta_{t+1} = theta_t - eta / sigma_t * g_t
    sigma_t = sqrt(alpha sigma_{t-1}^2 + (1 - alpha) g_t^2),   sigma_0 = |g_0|

Unlike torch.optim.RMSprop the state is the root mean square itself, it starts
at the first gradient's magnitude (so the first step is -eta sign(g_0)), and
there is no epsilon. ``eps`` (default 0, the blog post's formula) may be set to guard
against a zero gradient, which gives 0/0 otherwise.
"""
from optgen.dsl import Abs, Spec, hyper, state, w, g, sqrt

lr = hyper("lr", 1e-2, latex=r"\eta", domain="positive", doc="step size")
alpha = hyper("alpha", 0.99, latex=r"\alpha", domain="(0, 1)", doc="decay of the mean square")
eps = hyper("eps", 0.0, latex=r"\epsilon", domain="nonnegative",
            doc="added to sigma (0 in the blog post)")

sigma = state("sigma", init=Abs(g), latex=r"\sigma", doc="root mean square of the gradients")

spec = Spec("rmsprop_warmstart", [
    (sigma, sqrt(alpha * sigma**2 + (1 - alpha) * g**2)),
    (w, w - lr / (sigma + eps) * g),
], doc="RMSProp in the blog post's form: sigma_0 = |g_0|, w <- w - lr g / sigma.",
   references=["Tieleman & Hinton 2012, COURSERA Neural Networks for Machine Learning, lecture 6.5",
               "the blog post 'Some Deep Learning Optimizers', RMSProp"])
