mod render;
mod cli;
mod edit;
mod images;
mod overlays;
